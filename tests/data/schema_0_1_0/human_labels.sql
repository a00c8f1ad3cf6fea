-- human_labels: validated human judgments. One row per (request, model, dimension, annotator).
-- Written by human_labels from the configured label files; rows that fail validation go to
-- label_quarantine instead. Scores: correctness and style 1-5, refusal 0/1 (1 = the model
-- refused exactly when it should have).
CREATE TABLE IF NOT EXISTS human_labels (
    request_id VARCHAR NOT NULL,     -- traffic.request_id
    model      VARCHAR NOT NULL,     -- responses.model
    dimension  VARCHAR NOT NULL,     -- correctness | refusal | style
    annotator  VARCHAR NOT NULL,     -- who labelled it
    score      DOUBLE NOT NULL,      -- on the dimension's scale
    labeled_at TIMESTAMPTZ NOT NULL, -- when the label was given
    source     VARCHAR NOT NULL,     -- file the label came from
    PRIMARY KEY (request_id, model, dimension, annotator)
);

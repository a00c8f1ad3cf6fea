-- human_labels: validated human judgments. One row per (request, model, dimension, annotator).
-- Written by human_labels from the configured label files; rows that fail validation go to
-- label_quarantine instead. Each label is tied to the text it judged (response_hash): a label
-- whose response has since changed (a refreshed replay) stays here, attached to the old text,
-- and enters no fit (v_current_labels holds the labels of the current texts).
-- Scores: correctness and style 1-5, refusal 0/1 (1 = the model refused exactly when it
-- should have).
CREATE TABLE IF NOT EXISTS human_labels (
    request_id VARCHAR NOT NULL,     -- traffic.request_id
    model      VARCHAR NOT NULL,     -- responses.model
    dimension  VARCHAR NOT NULL,     -- correctness | refusal | style
    annotator  VARCHAR NOT NULL,     -- who labelled it
    score      DOUBLE NOT NULL,      -- on the dimension's scale
    labeled_at TIMESTAMPTZ NOT NULL, -- when the label was given
    source     VARCHAR NOT NULL,     -- file the label came from
    response_hash VARCHAR,           -- responses.response_hash of the text judged: from the
                                     -- file's `response_hash` column when it has one (the
                                     -- label queue's CSV does), else the text of record when
                                     -- the label was first read; NULL only for labels read
                                     -- before schema version 5 and not read again since
    PRIMARY KEY (request_id, model, dimension, annotator)
);

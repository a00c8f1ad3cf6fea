-- label_queue: one row per (queue round, blocking slice, request answered by both models): the
-- design of an active-labelling round for a (candidate, dimension, region) whose decision
-- needs more labels. Rows with to_label are the requests to send to annotators (both models'
-- responses on that dimension); the CSV written beside the warehouse lists them in the label
-- file format. Appended by label_queue, so every round's design stays (an unbiased estimate
-- from actively chosen labels needs each round's inclusion probabilities). One row per
-- (candidate, dimension, region, request_id, queued_at), NULL region included.
CREATE TABLE IF NOT EXISTS label_queue (
    candidate      VARCHAR NOT NULL, -- responses.model of the candidate whose slice needs labels
    dimension      VARCHAR NOT NULL, -- correctness | refusal | style
    region         VARCHAR,           -- traffic.region; NULL: the round covers all traffic
    request_id     VARCHAR NOT NULL, -- traffic.request_id
    labelled       BOOLEAN NOT NULL,  -- labelled for both models before this round
    uncertainty    DOUBLE NOT NULL,   -- predicted size of the metric's error on this request
    prediction     DOUBLE NOT NULL,   -- the metric's calibrated prediction of the difference
    inclusion_prob DOUBLE NOT NULL,   -- probability this round draws the request, in (0, 1]
    weight         DOUBLE NOT NULL,   -- 1 / inclusion_prob: its design weight
    selected       BOOLEAN NOT NULL,  -- drawn this round
    to_label       BOOLEAN NOT NULL,  -- drawn and not yet labelled: label it
    queued_at      TIMESTAMPTZ NOT NULL   -- the round
);

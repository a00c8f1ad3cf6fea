-- label_queue: the active-labelling rounds for the slices that block a verdict
-- (see sql/tables/label_queue.sql).
CREATE TABLE IF NOT EXISTS label_queue (
    candidate      VARCHAR NOT NULL,
    dimension      VARCHAR NOT NULL,
    region         VARCHAR NOT NULL,  -- 'ALL': the round covers every region of the dimension
    request_id     VARCHAR NOT NULL,
    labelled       BOOLEAN NOT NULL,  -- labelled for both models before this round
    uncertainty    DOUBLE NOT NULL,   -- predicted size of the metric's error on this request
    prediction     DOUBLE NOT NULL,   -- the metric's calibrated prediction of the difference
    inclusion_prob DOUBLE NOT NULL,   -- probability this round draws the request, in (0, 1]
    weight         DOUBLE NOT NULL,   -- 1 / inclusion_prob: its design weight
    selected       BOOLEAN NOT NULL,  -- drawn this round
    to_label       BOOLEAN NOT NULL,  -- drawn and not yet labelled: label it
    queued_at      TIMESTAMPTZ NOT NULL,  -- the round
    PRIMARY KEY (candidate, dimension, region, request_id, queued_at)
);

-- auto_scores: automated scores of the answer of record (v_answers), long format: one row per
-- (request, model, metric).
-- Written by auto_scores. metric_version changes when a metric's definition changes, so
-- stale scores can be told apart and recomputed.
CREATE TABLE IF NOT EXISTS auto_scores (
    request_id     VARCHAR NOT NULL, -- traffic.request_id
    model          VARCHAR NOT NULL, -- responses.model
    metric         VARCHAR NOT NULL, -- e.g. rouge_l_f, bertscore_f1, refusal, style
    metric_version VARCHAR NOT NULL, -- version of the metric's implementation
    value          DOUBLE,           -- the score; NULL when the metric does not apply
    scored_at      TIMESTAMPTZ NOT NULL, -- when the score was computed
    response_hash  VARCHAR,          -- responses.response_hash of the text scored: a changed
                                     -- text is scored again
    PRIMARY KEY (request_id, model, metric)
);

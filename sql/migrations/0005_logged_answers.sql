-- Production's logged answers and labels tied to the text they judged (see
-- sql/tables/responses.sql, human_labels.sql and auto_scores.sql).
-- responses gains `source` (its key, so a model's logged answer and its replay of the same
-- request can both be kept) and `response_hash`; DuckDB cannot change a primary key in
-- place, so the table is rebuilt. Rows from before are replays; those that came back in a
-- provider batch are marked 'batch'.
CREATE TABLE responses_0005 (
    request_id    VARCHAR NOT NULL,
    model         VARCHAR NOT NULL,
    source        VARCHAR NOT NULL,
    response      VARCHAR,
    response_hash VARCHAR,
    status        VARCHAR NOT NULL,
    error         VARCHAR,
    attempts      INTEGER NOT NULL,
    latency_ms    DOUBLE,
    tokens_in     INTEGER,
    tokens_out    INTEGER,
    cost_usd      DOUBLE,
    request_hash  VARCHAR NOT NULL,
    replayed_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (request_id, model, source)
);
INSERT INTO responses_0005
SELECT r.request_id, r.model,
       CASE WHEN EXISTS (SELECT 1 FROM batch_requests b
                         WHERE b.request_id = r.request_id AND b.request_hash = r.request_hash)
            THEN 'batch' ELSE 'replay' END,
       r.response, sha256(r.response), r.status, r.error, r.attempts, r.latency_ms,
       r.tokens_in, r.tokens_out, r.cost_usd, r.request_hash, r.replayed_at
FROM responses r;
DROP TABLE responses;
ALTER TABLE responses_0005 RENAME TO responses;

-- Until now a label or a score stood for whatever text its response held (a score was stale
-- once the response was replayed after it): tie each to that text.
ALTER TABLE human_labels ADD COLUMN response_hash VARCHAR;
UPDATE human_labels l SET response_hash = r.response_hash
FROM responses r WHERE r.request_id = l.request_id AND r.model = l.model;
ALTER TABLE auto_scores ADD COLUMN response_hash VARCHAR;
UPDATE auto_scores s SET response_hash = r.response_hash
FROM responses r WHERE r.request_id = s.request_id AND r.model = s.model
  AND s.scored_at >= r.replayed_at;

-- replay_fidelity: production's answers against the replay (see sql/tables/replay_fidelity.sql).
CREATE TABLE IF NOT EXISTS replay_fidelity (
    model          VARCHAR NOT NULL,
    region         VARCHAR NOT NULL,
    dimension      VARCHAR NOT NULL,
    requests       INTEGER NOT NULL,
    text_rouge_l   DOUBLE NOT NULL,
    text_bertscore DOUBLE,
    logged_mean    DOUBLE NOT NULL,
    replayed_mean  DOUBLE NOT NULL,
    difference     DOUBLE NOT NULL,
    measured_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (model, region, dimension)
);

-- traffic: the sample of production requests that is replayed against every model.
-- One row per request. Written by the traffic_sample asset; rows are upserted by request_id.
CREATE TABLE IF NOT EXISTS traffic (
    request_id      VARCHAR PRIMARY KEY,  -- production request id, stable across runs
    ts              TIMESTAMPTZ NOT NULL, -- when the request reached production
    region          VARCHAR NOT NULL,     -- deployment region; the unit of stratification
    language        VARCHAR,              -- expected answer language of the region (style guide)
    expects_refusal BOOLEAN NOT NULL,     -- production policy: the right answer is a refusal
    system          VARCHAR,              -- system prompt sent with the request, after redaction (NULL: none)
    prompt          VARCHAR NOT NULL,     -- user message, after redaction
    reference       VARCHAR,              -- reference answer when one exists, after redaction (NULL otherwise)
    sampled_at      TIMESTAMPTZ NOT NULL  -- when this row entered the sample
);

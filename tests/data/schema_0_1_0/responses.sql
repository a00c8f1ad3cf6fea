-- responses: one row per (request, model): the latest outcome of replaying the request.
-- Written by replay_responses. Failed calls stay here with status 'error' and are retried on
-- the next run; a successful row is never re-requested unless its request_hash changes.
CREATE TABLE IF NOT EXISTS responses (
    request_id   VARCHAR NOT NULL,     -- traffic.request_id
    model        VARCHAR NOT NULL,     -- registry name of the model (not the provider's id)
    response     VARCHAR,              -- answer text (NULL when the call failed)
    status       VARCHAR NOT NULL,     -- 'ok' | 'error'
    error        VARCHAR,              -- error class and message of the last failed attempt, or
                                       -- 'not sent: the replay stopped at ...' when the provider
                                       -- refused the key, access or model (401/403/404) first
    attempts     INTEGER NOT NULL,     -- HTTP attempts made for this row, retries included
                                       -- (summed over runs; 0 if never sent)
    latency_ms   DOUBLE,               -- wall time of the successful attempt
    tokens_in    INTEGER,              -- prompt tokens as billed by the provider
    tokens_out   INTEGER,              -- completion tokens as billed by the provider
    cost_usd     DOUBLE,               -- tokens x the registry's price per million tokens
    request_hash VARCHAR NOT NULL,     -- sha256 of (provider, model id, parameters, messages)
    replayed_at  TIMESTAMPTZ NOT NULL, -- when this row was last written
    PRIMARY KEY (request_id, model)
);

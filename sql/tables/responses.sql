-- responses: every answer a model gave to a sampled request, one row per (request, model,
-- source). `source` says where the answer came from: 'replay' (sent online by replay_responses
-- or `llm-migrate replay`), 'batch' (through a provider's batch API) or 'logged' (the answer
-- production served, carried by the traffic file's `response` column). A request has at most
-- one replayed row per model (replay or batch, the latest) and at most one logged row.
-- Which answer is scored, labelled and compared is v_answers' choice: the logged one when
-- there is one (the text users saw and annotators judged), else the replay.
-- Failed calls stay here with status 'error' and are retried on the next run; a successful
-- replay is never re-requested unless its request_hash changes.
CREATE TABLE IF NOT EXISTS responses (
    request_id    VARCHAR NOT NULL,     -- traffic.request_id
    model         VARCHAR NOT NULL,     -- registry name of the model (not the provider's id)
    source        VARCHAR NOT NULL,     -- 'replay' | 'batch' | 'logged'
    response      VARCHAR,              -- answer text (NULL when the call failed); a logged answer after redaction
    response_hash VARCHAR,              -- sha256 of the answer's UTF-8 text: the identity of
                                        -- what was judged (human_labels.response_hash); NULL
                                        -- when the call failed
    status        VARCHAR NOT NULL,     -- 'ok' | 'error'
    error         VARCHAR,              -- error class and message of the last failed attempt,
                                        -- or 'not sent: the replay stopped at ...' when the
                                        -- provider refused the key, access or model first
    attempts      INTEGER NOT NULL,     -- HTTP attempts made for this row, retries included
                                        -- (summed over runs; 0 if never sent or logged)
    latency_ms    DOUBLE,               -- wall time of the successful attempt (logged: as
                                        -- production recorded it, if it did)
    tokens_in     INTEGER,              -- prompt tokens as billed by the provider
    tokens_out    INTEGER,              -- completion tokens as billed by the provider
    cost_usd      DOUBLE,               -- tokens x the registry's price per million tokens
                                        -- (logged: production's figure, if it kept one)
    request_hash  VARCHAR NOT NULL,     -- sha256 of (provider, model id, parameters, messages)
    replayed_at   TIMESTAMPTZ NOT NULL, -- when this row was last written
    confidence    DOUBLE,               -- the answer's mean token log-probability (natural
                                        -- log, averaged over its completion tokens; <= 0,
                                        -- higher = more confident; exp() of it is the
                                        -- geometric mean token probability) where the model
                                        -- asked for log-probabilities (registry `logprobs`,
                                        -- OpenAI and OpenAI-compatible); NULL for Anthropic,
                                        -- logged answers, failed calls and older rows
    PRIMARY KEY (request_id, model, source)
);

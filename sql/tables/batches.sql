-- batches: one row per provider batch submitted by a batch replay (llm-migrate replay --batch,
-- or replay_responses with batch: true). Written right after the provider accepts the batch and
-- before any waiting, so a run that crashes afterwards resumes it instead of submitting (and
-- paying for) the same requests again. Its requests are in batch_requests.
-- status: 'submitted' (results not yet in responses; the next run resumes it), 'collected'
-- (results written to responses), 'lost' (the provider no longer knows it; its requests are
-- sent again by the next run).
CREATE TABLE IF NOT EXISTS batches (
    batch_id        VARCHAR PRIMARY KEY,  -- the provider's batch id (batch_... / msgbatch_...)
    model           VARCHAR NOT NULL,     -- registry name of the model (responses.model)
    provider        VARCHAR NOT NULL,     -- 'openai' | 'anthropic'
    status          VARCHAR NOT NULL,     -- 'submitted' | 'collected' | 'lost' (see above)
    provider_status VARCHAR,              -- provider's last reported state: completed, ended...
    input_file_id   VARCHAR,              -- OpenAI: the uploaded JSONL of requests (else NULL)
    request_count   INTEGER NOT NULL,     -- requests in the batch (its rows in batch_requests)
    submitted_at    TIMESTAMPTZ NOT NULL, -- when the provider accepted the batch
    completed_at    TIMESTAMPTZ,          -- when a poll saw it finished (NULL until collected)
    collected_at    TIMESTAMPTZ           -- when its results were written to responses
);

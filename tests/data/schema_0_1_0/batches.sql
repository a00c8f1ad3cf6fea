-- batches: one row per provider batch submitted by a batch replay (llm-migrate replay --batch,
-- or replay_responses with batch: true). Written before the batch is sent, so a run that crashes
-- at any point resumes it instead of submitting (and paying for) the same requests again. Its
-- requests are in batch_requests.
-- status: 'submitting' (sent or about to be, no answer seen yet; batch_id is then the
-- submission's own id, sub_..., which travels with the batch as OpenAI metadata and as the
-- prefix of every custom_id; the next run asks the provider's list of batches what became of
-- it), 'submitted' (accepted; results not yet in responses; the next run resumes it),
-- 'collected' (results written to responses), 'lost' (the provider no longer knows it; its
-- requests are sent again by the next run), 'not_accepted' (the provider refused it or has no
-- such batch; its requests are sent again by the next run).
CREATE TABLE IF NOT EXISTS batches (
    batch_id        VARCHAR PRIMARY KEY,  -- the provider's id (batch_... / msgbatch_...); sub_... while 'submitting'
    model           VARCHAR NOT NULL,     -- registry name of the model (responses.model)
    provider        VARCHAR NOT NULL,     -- 'openai' | 'anthropic'
    status          VARCHAR NOT NULL,     -- 'submitting' | 'submitted' | 'collected' | 'lost' | 'not_accepted'
    provider_status VARCHAR,              -- provider's last reported state: completed, ended...
    input_file_id   VARCHAR,              -- OpenAI: the uploaded JSONL of requests (else NULL)
    request_count   INTEGER NOT NULL,     -- requests in the batch (its rows in batch_requests)
    submitted_at    TIMESTAMPTZ NOT NULL, -- when the batch was recorded, just before it was sent
    completed_at    TIMESTAMPTZ,          -- when a poll saw it finished (NULL until collected)
    collected_at    TIMESTAMPTZ           -- when its results were written to responses
);

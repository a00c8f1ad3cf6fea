-- v_replay_stats: per-model health of its answers, by source ('replay', 'batch', 'logged'):
-- volume, error rate, latency, tokens and cost. One row per (model, source).
CREATE OR REPLACE VIEW v_replay_stats AS
SELECT
    model,                                           -- responses.model
    source,                                          -- responses.source
    count(*)                                         AS requests,       -- answers stored
    count(*) FILTER (WHERE status = 'ok')            AS succeeded,      -- of which status 'ok'
    avg(CASE WHEN status = 'ok' THEN 0 ELSE 1 END)   AS error_rate,     -- share not 'ok', 0-1
    quantile_cont(latency_ms, 0.5)                   AS latency_p50_ms, -- median latency (ms)
    quantile_cont(latency_ms, 0.95)                  AS latency_p95_ms, -- 95th percentile (ms)
    sum(tokens_in)                                   AS tokens_in,      -- prompt tokens billed
    sum(tokens_out)                                  AS tokens_out,     -- completion tokens billed
    sum(cost_usd)                                    AS cost_usd        -- total cost (USD)
FROM responses
GROUP BY model, source;

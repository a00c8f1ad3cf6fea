-- v_replay_stats: per-model health of its answers, by source ('replay', 'batch', 'logged'):
-- volume, error rate, latency, tokens and cost.
CREATE OR REPLACE VIEW v_replay_stats AS
SELECT
    model,
    source,
    count(*)                                         AS requests,
    count(*) FILTER (WHERE status = 'ok')            AS succeeded,
    avg(CASE WHEN status = 'ok' THEN 0 ELSE 1 END)   AS error_rate,
    quantile_cont(latency_ms, 0.5)                   AS latency_p50_ms,
    quantile_cont(latency_ms, 0.95)                  AS latency_p95_ms,
    sum(tokens_in)                                   AS tokens_in,
    sum(tokens_out)                                  AS tokens_out,
    sum(cost_usd)                                    AS cost_usd
FROM responses
GROUP BY model, source;

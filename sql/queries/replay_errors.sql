-- Per model, its replayed answers (online or batch) to the sampled requests: how many, how many
-- failed (status 'error', retried on the next run), and the most frequent error. For
-- replay_responses' replay_succeeded check.
SELECT r.model,
       count(*) AS requests,
       count(*) FILTER (WHERE r.status <> 'ok') AS failed,
       mode(r.error) FILTER (WHERE r.status <> 'ok') AS example
FROM responses r JOIN traffic t USING (request_id)
WHERE r.source IN ('replay', 'batch')
GROUP BY r.model
ORDER BY r.model

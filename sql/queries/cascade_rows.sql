-- The cascade plan's rows: every correctness label of an answer of record, with that answer's
-- confidence and cost, and the question and answer texts (what a serving-time judge reads for
-- a model without log-probabilities); pipeline.stats.cascade_plan.cascade_items aggregates
-- them per item.
SELECT l.request_id, l.model, l.score, a.confidence, a.cost_usd, t.prompt, a.response
FROM v_current_labels l
JOIN v_answers a ON a.request_id = l.request_id AND a.model = l.model
JOIN traffic t ON t.request_id = l.request_id
WHERE l.dimension = 'correctness'
ORDER BY l.request_id, l.model

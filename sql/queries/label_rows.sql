-- Label rows per dimension and region, and over all traffic (region 'ALL'): every model and
-- annotator counted (decisions.n_labels).
SELECT l.dimension, t.region, count(*) AS n
FROM human_labels l JOIN traffic t USING (request_id)
GROUP BY ALL
UNION ALL
SELECT dimension, 'ALL', count(*) FROM human_labels GROUP BY ALL

-- Label rows per dimension and region, and over all traffic (region NULL): every model and
-- annotator counted, labels of texts since changed not (decisions.n_labels).
SELECT l.dimension, t.region, count(*) AS n
FROM v_fit_labels l JOIN traffic t USING (request_id)
GROUP BY ALL
UNION ALL
SELECT dimension, NULL, count(*) FROM v_fit_labels GROUP BY ALL

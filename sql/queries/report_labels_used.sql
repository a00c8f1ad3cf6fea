-- The migration report's "labels used": per dimension and model, the label rows the fits use
-- (v_fit_labels), the responses they judge, and the annotators.
SELECT dimension, model, count(*) AS labels, count(DISTINCT request_id) AS labelled_requests,
       count(DISTINCT annotator) AS annotators
FROM v_fit_labels
GROUP BY ALL
ORDER BY dimension, model

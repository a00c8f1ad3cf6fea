-- When each labelled response (request, model, dimension) got its first current label: the
-- drift monitor's clock.
SELECT request_id, model, dimension, min(labeled_at) AS labeled_at
FROM v_fit_labels
GROUP BY ALL

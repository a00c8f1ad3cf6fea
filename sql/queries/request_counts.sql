-- Requests per (candidate, dimension, region) and over all traffic (region NULL), for the
-- label plan: `labelled` = labelled (the labels the fits use, v_fit_labels) for both the
-- incumbent and the candidate on the dimension;
-- `unlabelled` = answered by both (status ok; for correctness only requests with a reference,
-- the only ones Delta covers there) and not labelled for both. Parameter $incumbent.
WITH labelled AS (
    SELECT DISTINCT request_id, model, dimension FROM v_fit_labels
),
both_labelled AS (
    SELECT c.model AS candidate, c.dimension, c.request_id
    FROM labelled c
    JOIN labelled i ON i.request_id = c.request_id AND i.dimension = c.dimension
    WHERE i.model = $incumbent AND c.model <> $incumbent
),
answered AS (
    SELECT c.model AS candidate, c.request_id
    FROM v_answers c
    JOIN v_answers i ON i.request_id = c.request_id
    WHERE i.model = $incumbent AND c.model <> $incumbent
      AND i.status = 'ok' AND c.status = 'ok'
),
slices AS (
    SELECT a.candidate, d.dimension, t.region, a.request_id,
           b.request_id IS NOT NULL AS is_labelled
    FROM answered a
    JOIN traffic t USING (request_id)
    CROSS JOIN (SELECT DISTINCT dimension FROM v_fit_labels) d
    LEFT JOIN both_labelled b
           ON b.candidate = a.candidate AND b.dimension = d.dimension
          AND b.request_id = a.request_id
    WHERE d.dimension <> 'correctness' OR t.reference IS NOT NULL
)
SELECT candidate, dimension, region,
       count(*) FILTER (WHERE is_labelled) AS labelled,
       count(*) FILTER (WHERE NOT is_labelled) AS unlabelled
FROM slices GROUP BY ALL
UNION ALL
SELECT candidate, dimension, NULL,
       count(*) FILTER (WHERE is_labelled), count(*) FILTER (WHERE NOT is_labelled)
FROM slices GROUP BY ALL

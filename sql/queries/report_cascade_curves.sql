-- The migration report's cascade section: every curve of the latest cascade_plan run.
SELECT *
FROM cascade_curves
WHERE run_id = (SELECT run_id FROM cascade_curves ORDER BY fitted_at DESC LIMIT 1)
ORDER BY cascade, point

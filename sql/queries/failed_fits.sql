-- The (candidate, dimension) pairs whose Delta draws have no passing fit behind them: a fit
-- that failed its diagnostics, or none recorded at all. migration_decision writes fit_failed
-- for them.
SELECT DISTINCT d.candidate, d.dimension
FROM delta_draws d
LEFT JOIN fit_diagnostics f USING (candidate, dimension)
WHERE f.candidate IS NULL OR f.failures IS NOT NULL

-- The migration report's inputs: the fits of the latest run behind Delta (fit_history), one
-- row per (fit, candidate, dimension), with their method and diagnostics.
SELECT fit_id, method, candidate, dimension, min(fitted_at) AS fitted_at,
       max(max_r_hat) AS max_r_hat, min(min_ess_bulk) AS min_ess_bulk,
       max(divergences) AS divergences
FROM fit_history
WHERE fit_id = (SELECT fit_id FROM fit_history ORDER BY fitted_at DESC LIMIT 1)
GROUP BY ALL
ORDER BY candidate, dimension

-- The migration report's saved fits: every (fit, candidate, dimension) of the latest run that
-- saved fits (table fits; dimension NULL: the calibration model, every dimension at once).
SELECT fit_id, fit_key, candidate, dimension
FROM fits
WHERE fit_id = (SELECT fit_id FROM fits ORDER BY fitted_at DESC LIMIT 1)
ORDER BY candidate, dimension

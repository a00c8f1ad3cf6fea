-- The (candidate, dimension) pairs whose Delta draws have no passing fit behind them (a fit that
-- failed its diagnostics, or none recorded): migration_decision writes fit_failed for them, and
-- its fits_converged check says what failed, with the sampler settings the fit ran with (the
-- latest fits row's config).
WITH failed AS (
    SELECT DISTINCT d.candidate, d.dimension
    FROM delta_draws d
    LEFT JOIN fit_diagnostics f USING (candidate, dimension)
    WHERE f.candidate IS NULL OR f.failures IS NOT NULL
),
latest AS (
    SELECT candidate, dimension, config,
           row_number() OVER (PARTITION BY candidate, dimension ORDER BY fitted_at DESC) AS n
    FROM fits
)
SELECT x.candidate, x.dimension,
       coalesce(f.failures, 'no diagnostics recorded for this fit') AS failures,
       f.max_r_hat, f.min_ess_bulk, f.min_ess_tail, f.divergences, l.config
FROM failed x
LEFT JOIN fit_diagnostics f USING (candidate, dimension)
LEFT JOIN latest l ON l.candidate = x.candidate AND l.dimension = x.dimension AND l.n = 1
ORDER BY x.candidate, x.dimension

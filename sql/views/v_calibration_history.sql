-- v_calibration_history: Delta and the health of its fit, run after run, per candidate,
-- dimension and region. Same columns as fit_history, plus:
--   run  the fit's number (1 = the first fit), in order of fitted_at
CREATE OR REPLACE VIEW v_calibration_history AS
SELECT dense_rank() OVER (ORDER BY fitted_at) AS run, *
FROM fit_history;

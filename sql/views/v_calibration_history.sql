-- v_calibration_history: Delta and the health of its fit, run after run, per candidate,
-- dimension and region (fit_history), with the run's number (1 = the first fit).
CREATE OR REPLACE VIEW v_calibration_history AS
SELECT dense_rank() OVER (ORDER BY fitted_at) AS run, *
FROM fit_history;

-- v_drift_restarts: per (candidate, dimension) whose calibration has drifted, the time of
-- its latest alarm (any region): the fits and the drift monitor start again from the labels
-- given after it (v_fit_labels, calibration_drift).
CREATE OR REPLACE VIEW v_drift_restarts AS
SELECT candidate,                 -- drift_status.candidate
       dimension,                 -- drift_status.dimension
       max(alarm_at) AS restart_at  -- labeled_at of the latest alarm's label
FROM drift_status
WHERE alarm
GROUP BY ALL;

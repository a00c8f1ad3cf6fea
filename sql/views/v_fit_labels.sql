-- v_fit_labels: the labels the fits, the drift monitor and the label plan use: the labels of
-- the answers of record (v_current_labels), less a candidate's labels given up to its slice's
-- latest drift alarm. After an alarm the calibration restarts at the change: the candidate's
-- labels before it no longer describe how people judge it (the incumbent's stay, shared by
-- every candidate). Same columns as human_labels.
CREATE OR REPLACE VIEW v_fit_labels AS
SELECT l.*
FROM v_current_labels l
LEFT JOIN v_drift_restarts r ON r.candidate = l.model AND r.dimension = l.dimension
WHERE r.restart_at IS NULL OR l.labeled_at > r.restart_at;

-- v_drift_status: the latest drift check per (candidate, dimension, region): whether the
-- calibration has drifted, since when, and what moved. Same columns as drift_status.
CREATE OR REPLACE VIEW v_drift_status AS
SELECT *
FROM drift_status
QUALIFY checked_at = max(checked_at) OVER (PARTITION BY candidate, dimension, region);

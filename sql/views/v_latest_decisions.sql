-- v_latest_decisions: the rows of the most recent decision run. Same columns as decisions.
CREATE OR REPLACE VIEW v_latest_decisions AS
SELECT * FROM decisions
WHERE fitted_at = (SELECT max(fitted_at) FROM decisions);

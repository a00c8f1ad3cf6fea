-- v_decision_history: every decision run (decisions keeps them all). Same columns as
-- decisions, plus:
--   run      the decision run's number (1 = the first), in order of fitted_at
--   changed  the decision differs from the slice's previous run (true on its first run)
CREATE OR REPLACE VIEW v_decision_history AS
SELECT dense_rank() OVER (ORDER BY fitted_at) AS run, *,
       decision IS DISTINCT FROM lag(decision) OVER (
           PARTITION BY candidate, dimension, region ORDER BY fitted_at) AS changed
FROM decisions;

-- v_decision_history: every decision run (decisions keeps them all), with the run's number
-- (1 = the first) and whether the decision changed since the candidate's previous run.
CREATE OR REPLACE VIEW v_decision_history AS
SELECT dense_rank() OVER (ORDER BY fitted_at) AS run, *,
       decision IS DISTINCT FROM lag(decision) OVER (
           PARTITION BY candidate, dimension, region ORDER BY fitted_at) AS changed
FROM decisions;

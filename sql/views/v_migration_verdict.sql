-- v_migration_verdict: one row per candidate from the latest decision run. A candidate migrates
-- only when every guarded dimension says migrate (region ALL); any hold means hold.
CREATE OR REPLACE VIEW v_migration_verdict AS
SELECT
    candidate,
    incumbent,
    CASE
        WHEN bool_or(decision = 'hold') THEN 'hold'
        WHEN bool_and(decision = 'migrate') THEN 'migrate'
        ELSE 'need_more_labels'
    END AS verdict,
    sum(coalesce(labels_needed, 0)) AS labels_needed,
    string_agg(dimension || '=' || decision, ', ' ORDER BY dimension) AS by_dimension,
    max(fitted_at) AS fitted_at
FROM v_latest_decisions
WHERE region = 'ALL'
GROUP BY candidate, incumbent;

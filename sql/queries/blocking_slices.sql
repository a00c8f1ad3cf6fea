-- The slices of the latest decision run that keep a need_more_labels verdict from resolving
-- and that labelling can settle: every such region, or the traffic-weighted total (region NULL)
-- of a dimension whose regions have all resolved. Candidates whose verdict is decided (or
-- whose fit failed) queue nothing.
WITH open_slices AS (
    SELECT d.candidate, d.dimension, d.region, d.labels_needed
    FROM v_latest_decisions d
    JOIN v_migration_verdict v USING (candidate)
    WHERE v.verdict = 'need_more_labels' AND d.decision = 'need_more_labels'
      AND d.plan = 'label' AND d.labels_needed > 0
)
SELECT * FROM open_slices WHERE region IS NOT NULL
UNION ALL
SELECT * FROM open_slices total
WHERE region IS NULL AND NOT EXISTS (
    SELECT 1 FROM open_slices r
    WHERE r.region IS NOT NULL AND r.candidate = total.candidate AND r.dimension = total.dimension)
ORDER BY candidate, dimension, region NULLS FIRST

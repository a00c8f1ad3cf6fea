-- v_migration_verdict: one row per candidate from the latest decision run. A candidate migrates
-- only when every guarded dimension says migrate over all traffic (region NULL) and in every
-- region; a hold anywhere means hold; a fit that failed its diagnostics anywhere (and no hold)
-- means fit_failed: no verdict until it is refitted; otherwise more labels are needed.
CREATE OR REPLACE VIEW v_migration_verdict AS
WITH per_candidate AS (
    SELECT
        candidate,
        incumbent,
        CASE
            WHEN bool_or(decision = 'hold') THEN 'hold'
            WHEN bool_or(decision = 'fit_failed') THEN 'fit_failed'
            WHEN bool_and(decision = 'migrate') THEN 'migrate'
            ELSE 'need_more_labels'
        END AS verdict,
        -- each undecided region is labelled on its own, so their projections add up
        greatest(coalesce(sum(labels_needed) FILTER (WHERE region IS NOT NULL), 0),
                 coalesce(max(labels_needed) FILTER (WHERE region IS NULL), 0)) AS projected,
        string_agg(dimension || '=' || decision, ', ' ORDER BY dimension)
            FILTER (WHERE region IS NULL) AS by_dimension,
        coalesce(string_agg(dimension || '/' || region || '=' || decision, ', '
                            ORDER BY dimension, region)
                     FILTER (WHERE region IS NOT NULL AND decision <> 'migrate'), '')
            AS blocking_regions,
        bool_or(plan = 'cannot_settle') AS unsettleable,
        max(fitted_at) AS fitted_at
    FROM v_latest_decisions
    GROUP BY candidate, incumbent
)
SELECT
    candidate,  -- decisions.candidate
    incumbent,  -- decisions.incumbent
    verdict,    -- migrate | hold | need_more_labels | fit_failed
    -- labels_needed: labelled requests (both models' responses) after which a
    -- need_more_labels verdict resolves with probability 0.8 in each slice that blocks it;
    -- NULL once it is settled, or when some slice cannot be settled by labelling
    CASE WHEN verdict = 'need_more_labels' AND NOT coalesce(unsettleable, false)
         THEN projected END AS labels_needed,
    -- plan, need_more_labels only: 'label', or 'cannot_settle' (Delta sits on the margin
    -- somewhere)
    CASE WHEN verdict = 'need_more_labels'
         THEN CASE WHEN coalesce(unsettleable, false) THEN 'cannot_settle' ELSE 'label' END
    END AS plan,
    by_dimension,  -- each dimension's decision over all traffic: 'dimension=decision, ...'
    -- blocking_regions: the (dimension/region) slices that keep the verdict from migrate, for
    -- people to read
    -- (names may hold '/', ',' or '=': never parse it; v_latest_decisions has the slices)
    blocking_regions,
    fitted_at  -- the decision run (decisions.fitted_at)
FROM per_candidate;

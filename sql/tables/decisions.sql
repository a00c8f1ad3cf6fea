-- decisions: one row per (candidate, dimension, region) per decision run; region NULL is the
-- traffic-weighted total over all traffic that the verdict uses. Appended by migration_decision, so the history
-- of decisions stays queryable; the latest run has the greatest fitted_at.
CREATE TABLE IF NOT EXISTS decisions (
    candidate     VARCHAR NOT NULL,
    incumbent     VARCHAR NOT NULL,
    dimension     VARCHAR NOT NULL,
    region        VARCHAR,          -- traffic.region; NULL: all traffic (the traffic-weighted
                                    -- total), never a region's name
    delta_mean    DOUBLE NOT NULL, -- posterior mean of Delta (candidate - incumbent)
    ci_low        DOUBLE NOT NULL, -- central interval of Delta at level `prob`
    ci_high       DOUBLE NOT NULL,
    prob          DOUBLE NOT NULL, -- interval level and decision threshold, e.g. 0.95
    margin        DOUBLE NOT NULL, -- non-inferiority margin (0 = superiority)
    p_better      DOUBLE NOT NULL, -- P(Delta > -margin)
    decision      VARCHAR NOT NULL, -- migrate | hold | need_more_labels | fit_failed (the fit
                                    -- behind the draws failed its diagnostics: no verdict)
    n_labels      INTEGER NOT NULL, -- label rows of this dimension and region, every model and
                                    -- annotator counted
    labels_needed INTEGER,          -- need_more_labels only: more labelled REQUESTS (both models'
                                    -- responses labelled) after which the decision resolves with
                                    -- probability settle_prob; NULL when plan = 'cannot_settle'
    fitted_at     TIMESTAMPTZ NOT NULL,
    labelled_requests   INTEGER,    -- requests labelled for both the incumbent and the candidate
    unlabelled_requests INTEGER,    -- requests both answered and not yet labelled for both: the
                                    -- most the label plan can ask for
    settle_prob   DOUBLE,           -- P(the decision resolves) after labels_needed more (after
                                    -- every unlabelled request, for cannot_settle)
    plan          VARCHAR,          -- need_more_labels only: 'label' | 'cannot_settle' (Delta sits
                                    -- on the margin: labelling cannot settle it)
    fit_id        VARCHAR           -- the fit run whose draws it was decided from (fits.fit_id:
                                    -- the saved fits and their parameters); NULL in rows from
                                    -- before schema version 9
);

-- cascade_curves: the cascade alternative (asset cascade_plan, issue 18). A cascade sends each
-- request to its first (cheapest) model and defers to the next while that model's confidence
-- is below its threshold; the last model always answers, and a request costs every model it
-- was sent to. One row per (run, cascade, point of its fitted error-cost curve); every run
-- is kept. Items are the requests with a correctness label for every model of the cascade;
-- an item is correct for a model when its mean correctness label >= cascade_plan's
-- `correct_at`.
-- Cost figures include the serving-time judge's price for a model whose confidence is 'judge'.
CREATE TABLE IF NOT EXISTS cascade_curves (
    run_id            VARCHAR NOT NULL,     -- the Dagster run that fitted it
    fitted_at         TIMESTAMPTZ NOT NULL, -- when
    cascade           VARCHAR NOT NULL,     -- the models in order, joined by ' > '
    models            VARCHAR[] NOT NULL,   -- the models in order, cheapest first
    point             INTEGER NOT NULL,     -- 0, 1, ...: the curve's points by cost weight
    cost_weight       DOUBLE NOT NULL,      -- the thresholds minimise error + this x cost (USD)
    thresholds        DOUBLE[] NOT NULL,    -- one confidence threshold per model but the last
                                            -- (the scale of that model's confidence)
    expected_error    DOUBLE NOT NULL,      -- error rate the Markov-copula model expects
    expected_cost     DOUBLE NOT NULL,      -- mean cost per request (USD) it expects
    measured_error    DOUBLE,               -- error rate of these thresholds measured held
                                            -- out: on labelled items the fit did not see
                                            -- (how: measured_on)
    measured_cost     DOUBLE,               -- mean cost per request (USD) measured so
    n_items           INTEGER NOT NULL,     -- labelled items the fit used
    best_single_model VARCHAR,              -- the cascade's model with the lowest error alone
    best_single_error DOUBLE,               -- its error rate on the same items
    best_single_cost  DOUBLE,               -- its mean cost per request (USD) on them
    measured_on       VARCHAR,              -- how measured_* were measured, e.g. '5-fold
                                            -- cross-validation (seed 0): ...' (each fold's
                                            -- items through thresholds fitted on the others)
    in_sample_error   DOUBLE,               -- error rate of these thresholds on the items the
                                            -- curve was fitted on (optimistic)
    in_sample_cost    DOUBLE,               -- mean cost per request (USD) on them
    confidence_sources VARCHAR[],           -- per model, in order: where its confidence came
                                            -- from: 'log-probability' (responses.confidence),
                                            -- 'judge' (the serving-time judge's grade, its
                                            -- price added to the model's cost) or 'none' (a
                                            -- last model without either: a constant)
    PRIMARY KEY (run_id, cascade, point)
);

-- fit_parameters: the paired models' own parameters, summarised per fit: one row per (fit run,
-- candidate, dimension, parameter cell). A joint fit's rows are repeated under each candidate
-- it serves (WHERE candidate = ... gives a candidate's whole fit). Written by
-- population_posterior (method paired), appended on every run. Values are on the model's own
-- scale: metrics standardised over the compared rows; for graded labels human differences in
-- units of their labelled sd, for 0/1 and ordinal labels logits (the NetCDF's attributes
-- human_scale, metric_center and metric_scale give the units). Cells fixed by construction
-- (the incumbent's zero bias) are left out.
CREATE TABLE IF NOT EXISTS fit_parameters (
    fit_id    VARCHAR NOT NULL, -- fits.fit_id
    fit_key   VARCHAR NOT NULL, -- fits.fit_key
    candidate VARCHAR NOT NULL,
    dimension VARCHAR NOT NULL,
    parameter VARCHAR NOT NULL, -- beta: slope of each metric (shared by every model and region);
                                -- bias: how much the metric flatters a model in a region (the
                                -- rectifier; relative to the incumbent); gamma: extra slope for
                                -- the candidate (0/1, ordinal); a: the incumbent's level per
                                -- region (0/1, ordinal); sigma: residual sd (graded); tau_u: sd
                                -- of the request effect (0/1, ordinal); cut: ordinal cut points
    region    VARCHAR,          -- the cell's region; NULL: the parameter has none
    model     VARCHAR,          -- the model the cell belongs to (bias, gamma: a candidate; a:
                                -- the incumbent); NULL: shared
    metric    VARCHAR,          -- beta, gamma: the automated score (rouge_l_f, bertscore_f1,
                                -- refusal_right, style); NULL otherwise
    cut_point INTEGER,          -- cut: 0 between the lowest two observed levels, ...; NULL
                                -- otherwise
    mean      DOUBLE,           -- posterior mean
    sd        DOUBLE,           -- posterior sd
    hdi_low   DOUBLE,           -- 94% highest-density interval
    hdi_high  DOUBLE,
    r_hat     DOUBLE,           -- convergence: should be at most 1.01
    ess_bulk  DOUBLE,           -- effective sample sizes: at least 400 each
    ess_tail  DOUBLE
);

-- replay_fidelity: how far each model's replayed answers are from the answers production
-- logged for the same requests, per region (and over all traffic: region NULL) and quality
-- dimension: one row per (model, region, dimension). Written by the replay_fidelity asset,
-- replaced on each run; empty when no model has both kinds of answer.
CREATE TABLE IF NOT EXISTS replay_fidelity (
    model          VARCHAR NOT NULL,     -- responses.model
    region         VARCHAR,              -- traffic.region; NULL: all traffic
    dimension      VARCHAR NOT NULL,     -- correctness | refusal | style
    requests       INTEGER NOT NULL,     -- requests answered both ways (for correctness: with
                                         -- a reference)
    text_rouge_l   DOUBLE NOT NULL,      -- mean ROUGE-L F between logged and replayed texts
    text_bertscore DOUBLE,               -- mean BERTScore F1 between them; NULL when not
                                         -- computed (replay_fidelity config `bertscore`)
    logged_mean    DOUBLE NOT NULL,      -- mean automated score of the logged answers (the
                                         -- dimension's signal: ROUGE-L F to the reference,
                                         -- refusal behaviour right, style checks passed)
    replayed_mean  DOUBLE NOT NULL,      -- the same over the replayed answers
    difference     DOUBLE NOT NULL,      -- replayed_mean - logged_mean
    measured_at    TIMESTAMPTZ NOT NULL  -- the run
);

-- v_auto_scores_wide: one row per (request, model) with one column per automated metric.
-- bertscore_f1 is NULL where the BERTScore scorer is switched off (auto_scores.bertscore).
CREATE OR REPLACE VIEW v_auto_scores_wide AS
SELECT
    request_id,
    model,
    max(value) FILTER (WHERE metric = 'rouge_l_f')    AS rouge_l_f,
    max(value) FILTER (WHERE metric = 'bertscore_f1') AS bertscore_f1,
    max(value) FILTER (WHERE metric = 'refusal')      AS refusal,
    max(value) FILTER (WHERE metric = 'style')        AS style
FROM auto_scores
GROUP BY request_id, model;

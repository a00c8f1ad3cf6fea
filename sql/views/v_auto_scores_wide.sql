-- v_auto_scores_wide: one row per (request, model) with one column per automated metric, for
-- the answer of record (v_answers).
-- bertscore_f1 is NULL where the BERTScore scorer is switched off (auto_scores.bertscore).
CREATE OR REPLACE VIEW v_auto_scores_wide AS
SELECT
    request_id,
    model,
    max(value) FILTER (WHERE metric = 'rouge_l_f')    AS rouge_l_f,
    max(value) FILTER (WHERE metric = 'bertscore_f1') AS bertscore_f1,
    max(value) FILTER (WHERE metric = 'refusal')      AS refusal,
    max(value) FILTER (WHERE metric = 'style')        AS style
FROM auto_scores s
JOIN v_answers a USING (request_id, model)
WHERE s.response_hash = a.response_hash  -- scores of a text since replaced are left out
GROUP BY request_id, model;

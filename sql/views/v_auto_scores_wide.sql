-- v_auto_scores_wide: one row per (request, model) with one column per automated metric, for
-- the answer of record (v_answers). A metric's column is NULL where it does not apply or was
-- not computed (bertscore_f1 where the BERTScore scorer is switched off, auto_scores.bertscore).
CREATE OR REPLACE VIEW v_auto_scores_wide AS
SELECT
    request_id,  -- traffic.request_id
    model,       -- responses.model
    max(value) FILTER (WHERE metric = 'rouge_l_f')    AS rouge_l_f,     -- ROUGE-L F
    max(value) FILTER (WHERE metric = 'bertscore_f1') AS bertscore_f1,  -- BERTScore F1
    max(value) FILTER (WHERE metric = 'refusal')      AS refusal,       -- refusal right: 0/1
    max(value) FILTER (WHERE metric = 'style')        AS style          -- style checks passed
FROM auto_scores s
JOIN v_answers a USING (request_id, model)
WHERE s.response_hash = a.response_hash  -- scores of a text since replaced are left out
GROUP BY request_id, model;

-- v_current_labels: the labels that judged the current answer of record (v_answers), the
-- only ones that enter a fit. A label of a text that has since changed (a refreshed replay,
-- or a logged answer that arrived after the replay was labelled) is left out; it stays in
-- human_labels, attached to the text it judged. Same columns as human_labels.
CREATE OR REPLACE VIEW v_current_labels AS
SELECT l.*
FROM human_labels l
JOIN v_answers a
  ON a.request_id = l.request_id AND a.model = l.model
 AND a.response_hash = l.response_hash;

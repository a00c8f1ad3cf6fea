-- The migration report's "label next": the requests the latest label-queue round drew and
-- that are not labelled yet, per blocking slice, with their inclusion probability (region
-- NULL: a round over all traffic).
SELECT candidate, dimension, region, request_id, inclusion_prob, queued_at
FROM label_queue
WHERE to_label AND queued_at = (SELECT max(queued_at) FROM label_queue)
ORDER BY candidate, dimension, region NULLS FIRST, request_id

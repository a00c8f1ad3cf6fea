-- v_answers: the answer of record of each (request, model): what is scored, labelled and
-- compared. Production's logged answer when there is a successful one (the text users saw and
-- annotators judged), else the replayed one (online or batch). Same columns as responses.
CREATE OR REPLACE VIEW v_answers AS
SELECT *
FROM responses
QUALIFY row_number() OVER (
    PARTITION BY request_id, model
    ORDER BY (source = 'logged' AND status = 'ok') DESC, replayed_at DESC, source
) = 1;

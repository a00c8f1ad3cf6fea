-- decisions: the label plan counts labelled requests and says when labelling cannot settle a
-- decision (see sql/tables/decisions.sql). Rows written before have NULL in the new columns.
ALTER TABLE decisions ADD COLUMN labelled_requests INTEGER;
ALTER TABLE decisions ADD COLUMN unlabelled_requests INTEGER;
ALTER TABLE decisions ADD COLUMN settle_prob DOUBLE;
ALTER TABLE decisions ADD COLUMN plan VARCHAR;

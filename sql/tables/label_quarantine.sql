-- label_quarantine: label rows that failed validation, with the reason. A row keeps the
-- project's label columns only (request_id, model, dimension, annotator, score, labeled_at,
-- response_hash), with personal data redacted; any other column of the file is dropped and
-- named in the reason. No row is dropped silently: fix the source file and the next run
-- picks the row up.
CREATE TABLE IF NOT EXISTS label_quarantine (
    source        VARCHAR NOT NULL,     -- file the row came from
    row_number    INTEGER NOT NULL,     -- 1-based data row in that file (header excluded)
    field         VARCHAR NOT NULL,     -- the offending column
    reason        VARCHAR NOT NULL,     -- what is wrong with it (redacted), and the columns not kept
    raw           VARCHAR NOT NULL,     -- the row's label columns as read, redacted, JSON
    quarantined_at TIMESTAMPTZ NOT NULL, -- when the row was read and rejected
    PRIMARY KEY (source, row_number)
);

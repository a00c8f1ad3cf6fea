-- label_quarantine: label rows that failed validation, kept whole with the reason.
-- Nothing is dropped silently: fix the source file and the next run picks the row up.
CREATE TABLE IF NOT EXISTS label_quarantine (
    source        VARCHAR NOT NULL,     -- file the row came from
    row_number    INTEGER NOT NULL,     -- 1-based data row in that file (header excluded)
    field         VARCHAR NOT NULL,     -- the offending column
    reason        VARCHAR NOT NULL,     -- what is wrong with it
    raw           VARCHAR NOT NULL,     -- the row as read, JSON
    quarantined_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, row_number)
);

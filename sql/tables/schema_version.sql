-- schema_version: which schema migrations this warehouse has been through. One row per version;
-- the greatest version is the warehouse's current schema. Written only by apply_schema: version 1
-- is the DDL released with 0.1.0 ('baseline'), each later version is one file of sql/migrations.
-- A fresh warehouse is created from sql/tables at the latest version and gets every version's
-- row at once (same applied_at); a warehouse built by 0.1.0 is stamped 1, then migrated.
CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,  -- 1 = baseline, N = sql/migrations/NNNN_*.sql
    name       VARCHAR NOT NULL,     -- 'baseline' or the migration's file name
    applied_at TIMESTAMPTZ NOT NULL  -- when this warehouse reached the version
);

-- One view per lake table over its Parquet files (lake/sql/table_scan.sql scans).
--   {{table}}  the view (and table folder) name
--   {{scans}}  the table's scans, joined by UNION ALL BY NAME: one over the files read
--              whole (staging files, segments none of whose floats is superseded), one
--              over the segments with superseded floats, filtered on float_id
--              (lib/duckdb.ts tableScans)
-- Every file of a table has the same schema (lake/schema.ts), so no union_by_name inside
-- a scan: DuckDB binds on one file's footer. Filters on dac and year prune whole files.
CREATE OR REPLACE VIEW {{table}} AS
{{scans}};

-- One view per lake table over its Parquet files (lake/sql/table_scan.sql scans).
--   {{table}}  the view (and table folder) name
--   {{scans}}  the table's scans, joined by UNION ALL BY NAME: one over every file read
--              whole (staging files, segments none of whose floats is superseded), then
--              one per segment with superseded floats, filtered on float_id
-- Every file of a table has the same schema (lake/schema.ts), so no union_by_name inside
-- a scan: DuckDB binds on one file's footer. Filters on dac and year prune whole files.
CREATE OR REPLACE VIEW {{table}} AS
{{scans}};

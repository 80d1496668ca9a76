-- One view per lake table over its Parquet files.
--   {{table}}       the view (and table folder) name
--   {{standard}}    an empty relation with the table's standard columns and types
--                   (lake/schema.ts), first, so the view always has them, in that order,
--                   even when no file has a column (e.g. no psal anywhere)
--   {{files}}       a glob such as '<root>/parquet/measurements/**/*.parquet'
--                   (local path, or s3://bucket/prefix/... with DuckDB's httpfs)
--   {{hive_types}}  {'dac': VARCHAR, 'year': INTEGER}: year stays an integer, and
--                   year=__HIVE_DEFAULT_PARTITION__ (profiles without a time) reads as NULL
-- Files written with different parameter sets are unioned by column name; a
-- column a file lacks reads as NULL. Filters on dac and year prune whole files.
CREATE OR REPLACE VIEW {{table}} AS
SELECT * FROM ({{standard}})
UNION ALL BY NAME
SELECT * FROM read_parquet({{files}}, hive_partitioning = true, union_by_name = true, hive_types = {{hive_types}});

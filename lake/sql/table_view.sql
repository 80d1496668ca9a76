-- One view per lake table over its Parquet files.
--   {{table}}       the view (and table folder) name
--   {{files}}       the table's files, listed one by one as SQL strings with the glob
--                   characters [ ] * ? escaped ([[] []] [*] [?]), so a path is only ever
--                   itself (lake/views.ts literalPath)
--   {{hive_types}}  {'dac': VARCHAR, 'year': INTEGER}: year stays an integer, and
--                   year=__HIVE_DEFAULT_PARTITION__ (profiles without a time) reads as NULL
-- Every file of a table has the same schema (lake/schema.ts), so no union_by_name:
-- DuckDB binds on one file's footer. Filters on dac and year prune whole files.
CREATE OR REPLACE VIEW {{table}} AS
SELECT * FROM read_parquet([{{files}}], hive_partitioning = true, hive_types = {{hive_types}});

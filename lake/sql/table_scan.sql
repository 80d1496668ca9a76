-- One scan of a table view (lake/sql/table_view.sql).
--   {{files}}       the files, listed one by one as SQL strings with the glob characters
--                   [ ] * ? escaped ([[] []] [*] [?]), so a path is only ever itself
--                   (lake/views.ts literalPath)
--   {{hive_types}}  {'dac': VARCHAR, 'year': INTEGER}: year stays an integer, and
--                   year=__HIVE_DEFAULT_PARTITION__ (profiles without a time) reads as NULL
--   {{where}}       empty, or " WHERE float_id [NOT] IN (...)": the floats of segments left
--                   out (superseded by staging files or a tombstone) or kept (a load batch)
SELECT * FROM read_parquet([{{files}}], hive_partitioning = true, hive_types = {{hive_types}}){{where}}

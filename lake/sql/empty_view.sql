-- The view of a table that has no Parquet file yet: its standard columns, no rows.
CREATE OR REPLACE VIEW {{table}} AS
SELECT * FROM ({{standard}});

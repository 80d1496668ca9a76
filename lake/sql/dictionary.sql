-- The lake's dictionary: every column of every table, and every parameter of the long
-- tables (column `value`, `parameter` set), with type, units, long name and the Argo
-- variable, folded over the per-float dictionary files; `floats` counts the floats whose
-- files gave that entry (units as the files spell them, so a float with other units shows).
CREATE OR REPLACE VIEW dictionary AS
SELECT table_name, column_name, parameter, type, units, long_name, argo_variable,
       count(DISTINCT float_id) AS floats
FROM dictionary_by_float
GROUP BY ALL
ORDER BY table_name, parameter NULLS FIRST, column_name, units;

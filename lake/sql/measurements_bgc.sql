-- The wide view of the levels: every column of `measurements`, and for each common BGC
-- parameter (lake/schema.ts STANDARD_BGC_PARAMETERS) its eight columns pivoted back from
-- the long `bgc_measurements` table at the same (float, cycle, direction, N_PROF, level):
-- P, P_qc, P_raw, P_raw_qc, P_adjusted, P_adjusted_qc, P_adjusted_error, P_mode.
-- Values are FLOAT again, as the files hold these parameters.
--   {{pivot_columns}}   the pivoted column list
--   {{parameters}}      the parameters' Argo names as SQL strings
CREATE OR REPLACE VIEW measurements_bgc AS
WITH b AS (
  SELECT float_id, cycle_number, direction, profile_index, level{{pivot_columns}}
  FROM bgc_measurements
  WHERE parameter IN ({{parameters}})
  GROUP BY float_id, cycle_number, direction, profile_index, level
)
SELECT m.*{{bgc_columns}}
FROM measurements m
LEFT JOIN b USING (float_id, cycle_number, direction, profile_index, level);

-- argopy's "research" user mode (shared/ARGO.md), over `measurements` and `bgc_measurements`.
-- A row is a level whose position, time and pressure are research grade: POSITION_QC = 1,
-- JULD_QC = 1, DATA_MODE = D, PRES_ADJUSTED_QC = 1 and PRES_ADJUSTED_ERROR < 20 dbar.
-- Core: TEMP and PSAL (adjusted values) are kept when the adjusted QC of each of them the
-- profile has is 1. Values are the adjusted ones (in mode D they are the best values).
-- BGC: each parameter on its own: its mode is D and its adjusted QC is 1, 5 or 8.
-- A level is a row when its core point or any of its BGC values is kept.
--   {{pivot_columns}}, {{bgc_columns}}, {{any_kept}}, {{parameters}}: as in measurements_standard.sql
CREATE OR REPLACE VIEW measurements_research AS
WITH b AS (
  SELECT float_id, cycle_number, direction, profile_index, level{{pivot_columns}}
  FROM bgc_measurements
  WHERE parameter IN ({{parameters}})
  GROUP BY float_id, cycle_number, direction, profile_index, level
), m AS (
  SELECT *,
    (temp_mode IS NOT NULL OR psal_mode IS NOT NULL)
      AND (temp_mode IS NULL OR temp_adjusted_qc = 1)
      AND (psal_mode IS NULL OR psal_adjusted_qc = 1) AS core_kept
  FROM measurements
  WHERE pres_raw IS NOT NULL
    AND position_qc = 1
    AND juld_qc = 1
    AND data_mode = 'D'
    AND pres_adjusted_qc = 1
    AND pres_adjusted_error < 20
)
SELECT
  m.float_id, m.cycle_number, m.direction, m.profile_index, m.data_mode, m.time, m.juld_qc,
  m.latitude, m.longitude, m.position_qc, m.level, m.depth_m, m.dac, m.year,
  m.pres_adjusted AS pres, m.pres_adjusted_qc AS pres_qc, m.pres_adjusted_error AS pres_error,
  CASE WHEN core_kept THEN m.temp_adjusted END AS temp,
  CASE WHEN core_kept THEN m.temp_adjusted_qc END AS temp_qc,
  CASE WHEN core_kept THEN m.temp_adjusted_error END AS temp_error,
  CASE WHEN core_kept THEN m.psal_adjusted END AS psal,
  CASE WHEN core_kept THEN m.psal_adjusted_qc END AS psal_qc,
  CASE WHEN core_kept THEN m.psal_adjusted_error END AS psal_error{{bgc_columns}},
  m.source_file, m.bgc_source_file
FROM m
LEFT JOIN b USING (float_id, cycle_number, direction, profile_index, level)
WHERE core_kept OR {{any_kept}};

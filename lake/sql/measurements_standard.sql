-- argopy's "standard" user mode (shared/ARGO.md), over `measurements` and `bgc_measurements`.
-- A row is a level (raw PRES not fill) whose position, time and pressure are good:
-- POSITION_QC, JULD_QC and the best PRES_QC all 1 or 2 (blank counts as 9).
-- Core: TEMP and PSAL (best values, any data mode) are kept when the best QC of each of
-- them the profile has is 1 or 2: a profile without PSAL (13857) is judged on TEMP alone,
-- as argopy filters on the QC variables a dataset has. Profile QC letters are ignored.
-- BGC: each parameter on its own, whatever TEMP and PSAL do at that level, so values on
-- secondary profiles (N_PROF > 0, no TEMP/PSAL) are kept:
--   radiometry (DOWN_IRRADIANCE*, DOWNWELLING_PAR) and BBP*: any mode, no QC filter;
--   the others: mode A or D and best QC 1, 2, 5 or 8.
-- A level is a row when its core point or any of its BGC values is kept.
--   {{pivot_columns}}  per BGC parameter: value, QC, error, mode kept by the rule
--   {{bgc_columns}}    the same names in the output
--   {{any_kept}}       true when a BGC value of the level is kept
--   {{parameters}}     the BGC parameters' Argo names as SQL strings
CREATE OR REPLACE VIEW measurements_standard AS
WITH b AS (
  SELECT float_id, cycle_number, direction, profile_index, level{{pivot_columns}}
  FROM bgc_measurements
  WHERE parameter IN ({{parameters}})
  GROUP BY float_id, cycle_number, direction, profile_index, level
), m AS (
  SELECT *,
    (temp_mode IS NOT NULL OR psal_mode IS NOT NULL)
      AND (temp_mode IS NULL OR coalesce(temp_qc, 9) IN (1, 2))
      AND (psal_mode IS NULL OR coalesce(psal_qc, 9) IN (1, 2)) AS core_kept
  FROM measurements
  WHERE pres_raw IS NOT NULL
    AND coalesce(position_qc, 9) IN (1, 2)
    AND coalesce(juld_qc, 9) IN (1, 2)
    AND coalesce(pres_qc, 9) IN (1, 2)
)
SELECT
  m.float_id, m.cycle_number, m.direction, m.profile_index, m.data_mode, m.time, m.juld_qc,
  m.latitude, m.longitude, m.position_qc, m.level, m.depth_m, m.dac, m.year,
  m.pres, m.pres_qc, CASE WHEN m.data_mode IN ('A', 'D') THEN m.pres_adjusted_error END AS pres_error,
  CASE WHEN core_kept THEN m.temp END AS temp,
  CASE WHEN core_kept THEN m.temp_qc END AS temp_qc,
  CASE WHEN core_kept AND m.data_mode IN ('A', 'D') THEN m.temp_adjusted_error END AS temp_error,
  CASE WHEN core_kept THEN m.psal END AS psal,
  CASE WHEN core_kept THEN m.psal_qc END AS psal_qc,
  CASE WHEN core_kept AND m.data_mode IN ('A', 'D') THEN m.psal_adjusted_error END AS psal_error{{bgc_columns}},
  m.source_file, m.bgc_source_file
FROM m
LEFT JOIN b USING (float_id, cycle_number, direction, profile_index, level)
WHERE core_kept OR {{any_kept}};

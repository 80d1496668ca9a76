-- argopy's "research" user mode (shared/ARGO.md), over the measurements view.
-- Core: POSITION_QC = 1 and JULD_QC = 1, DATA_MODE = D only, PRES, TEMP and PSAL
-- adjusted QC = 1, and PRES_ADJUSTED_ERROR < 20 dbar; values are the adjusted
-- ones (in mode D the best values are the adjusted ones). Levels whose raw PRES
-- is fill are not rows at all.
-- BGC: a BGC parameter's value (and QC, error) is kept when its own data mode is
-- D and its adjusted QC is 1, 5 or 8; otherwise it is NULL on that row.
--   {{bgc_columns}}  the BGC column list, made from the parameters the lake has
CREATE OR REPLACE VIEW measurements_research AS
SELECT
  float_id, cycle_number, direction, profile_index, data_mode, time, juld_qc,
  latitude, longitude, position_qc, level, depth_m, dac, year,
  pres_adjusted AS pres, pres_adjusted_qc AS pres_qc, pres_adjusted_error AS pres_error,
  temp_adjusted AS temp, temp_adjusted_qc AS temp_qc, temp_adjusted_error AS temp_error,
  psal_adjusted AS psal, psal_adjusted_qc AS psal_qc, psal_adjusted_error AS psal_error{{bgc_columns}},
  source_file, bgc_source_file
FROM measurements
WHERE pres_raw IS NOT NULL
  AND position_qc = 1
  AND juld_qc = 1
  AND data_mode = 'D'
  AND pres_adjusted_qc = 1
  AND temp_adjusted_qc = 1
  AND psal_adjusted_qc = 1
  AND pres_adjusted_error < 20;

-- argopy's "standard" user mode (shared/ARGO.md), over the measurements view.
-- Core: a point is a level whose raw PRES is not fill (every measurement row);
-- values and QC are the best values (adjusted in mode A or D, raw in R; all data
-- modes kept); a blank QC counts as 9; a point is kept when POSITION_QC, JULD_QC
-- and the best PRES_QC, TEMP_QC and PSAL_QC are all 1 or 2. A profile without
-- PSAL has no PSAL_QC, so blank = 9: its points are not kept. Profile QC letters
-- are ignored.
-- BGC: a BGC parameter's value (and QC, error) is kept when its own data mode is
-- A or D and its best QC is 1, 2, 5 or 8; otherwise it is NULL on that row.
--   {{bgc_columns}}  the BGC column list, made from the parameters the lake has
CREATE OR REPLACE VIEW measurements_standard AS
SELECT
  float_id, cycle_number, direction, profile_index, data_mode, time, juld_qc,
  latitude, longitude, position_qc, level, depth_m, dac, year,
  pres, pres_qc, CASE WHEN data_mode IN ('A', 'D') THEN pres_adjusted_error END AS pres_error,
  temp, temp_qc, CASE WHEN data_mode IN ('A', 'D') THEN temp_adjusted_error END AS temp_error,
  psal, psal_qc, CASE WHEN data_mode IN ('A', 'D') THEN psal_adjusted_error END AS psal_error{{bgc_columns}},
  source_file, bgc_source_file
FROM measurements
WHERE pres_raw IS NOT NULL
  AND coalesce(position_qc, 9) IN (1, 2)
  AND coalesce(juld_qc, 9) IN (1, 2)
  AND coalesce(pres_qc, 9) IN (1, 2)
  AND coalesce(temp_qc, 9) IN (1, 2)
  AND coalesce(psal_qc, 9) IN (1, 2);

-- The values the gridded monthly climatology is made of: one row per best value of
-- temp, psal or doxy whose QC is good (1 or 2), at a level whose best PRES has good QC,
-- in a profile whose time (JULD_QC) and position (POSITION_QC) are good (1 or 2).
-- Cell: lat_bin = floor(latitude) in -90..89, lon_bin = floor(longitude) in -180..179
-- (90 and 180 fold into the last bin), calendar month of the UTC time, pressure band.
-- Reads the views `measurements_bgc` (measurements with DOXY pivoted in) and `pressure_bands`, and `load_floats` (the floats to load).
CREATE OR REPLACE TEMP VIEW climatology_points AS
WITH m AS (
  SELECT float_id, time, latitude, longitude, pres, temp, temp_qc, psal, psal_qc, doxy, doxy_qc
  FROM measurements_bgc
  WHERE float_id IN (SELECT float_id FROM load_floats)
    AND time IS NOT NULL AND juld_qc IN (1, 2)
    AND latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180 AND position_qc IN (1, 2)
    AND pres IS NOT NULL AND NOT isnan(pres) AND pres_qc IN (1, 2)
), v AS (
  SELECT float_id, time, latitude, longitude, pres, 'temp' AS parameter, temp::DOUBLE AS value FROM m WHERE temp_qc IN (1, 2)
  UNION ALL
  SELECT float_id, time, latitude, longitude, pres, 'psal', psal::DOUBLE FROM m WHERE psal_qc IN (1, 2)
  UNION ALL
  SELECT float_id, time, latitude, longitude, pres, 'doxy', doxy::DOUBLE FROM m WHERE doxy_qc IN (1, 2)
)
SELECT v.float_id, v.parameter,
       least(floor(v.latitude), 89)::SMALLINT AS lat_bin,
       least(floor(v.longitude), 179)::SMALLINT AS lon_bin,
       month(v.time)::SMALLINT AS month,
       b.band,
       v.value
FROM v JOIN pressure_bands b ON v.pres >= b.pres_min AND v.pres < b.pres_max
WHERE v.value IS NOT NULL AND NOT isnan(v.value);

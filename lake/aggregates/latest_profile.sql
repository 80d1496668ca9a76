-- Each float's latest profile (highest cycle; the ascending one before the descending one;
-- the primary sampling, N_PROF 0, first) and its levels' best values, for the hot layer.
WITH latest AS (
  SELECT float_id, cycle_number, direction, profile_index
  FROM profiles
  WHERE float_id IN (SELECT float_id FROM load_floats)
  QUALIFY row_number() OVER (PARTITION BY float_id ORDER BY cycle_number DESC, direction, profile_index) = 1
)
SELECT l.float_id, l.cycle_number, l.direction, l.profile_index::INTEGER AS profile_index,
       m.level, m.pres, m.pres_qc::INTEGER AS pres_qc, m.depth_m,
       m.temp, m.temp_qc::INTEGER AS temp_qc, m.psal, m.psal_qc::INTEGER AS psal_qc,
       m.doxy, m.doxy_qc::INTEGER AS doxy_qc, m.chla, m.chla_qc::INTEGER AS chla_qc
FROM latest l
LEFT JOIN measurements_bgc m
  ON m.float_id = l.float_id AND m.cycle_number = l.cycle_number
 AND m.direction = l.direction AND m.profile_index = l.profile_index
WHERE m.float_id IN (SELECT float_id FROM load_floats) OR m.float_id IS NULL
ORDER BY l.float_id, m.level;

-- One row per profile of the floats to load, with the columns of Postgres's `profiles`
-- table, in types that travel as they are: times as ISO-8601 UTC text with microseconds,
-- the statistics list as JSON text.
SELECT
  float_id,
  cycle_number,
  direction,
  profile_index::INTEGER AS profile_index,
  dac,
  data_mode,
  quality_status,
  strftime(time, '%Y-%m-%dT%H:%M:%S.%fZ') AS time,
  juld_qc::INTEGER AS juld_qc,
  latitude,
  longitude,
  position_qc::INTEGER AS position_qc,
  positioning_system,
  vertical_sampling_scheme,
  data_centre,
  platform_type,
  n_levels,
  max_pres,
  coalesce(parameters, []::VARCHAR[]) AS parameters,
  parameter_data_mode,
  coalesce(to_json(parameter_stats), '[]')::VARCHAR AS parameter_stats,
  source_file,
  bgc_source_file,
  strftime(date_update, '%Y-%m-%dT%H:%M:%S.%fZ') AS date_update
FROM profiles
WHERE float_id IN (SELECT float_id FROM load_floats)
ORDER BY float_id, cycle_number, direction, profile_index;

-- One row per float to load: its meta fields (the lake's `floats` row as JSON) and a
-- summary of its profiles. The last position is the latest profile's (by time, then
-- cycle) whose position is present and not flagged bad (POSITION_QC 3 or 4).
WITH p AS (
  SELECT * FROM profiles WHERE float_id IN (SELECT float_id FROM load_floats)
), s AS (
  SELECT float_id,
         min(dac) AS dac,
         count(*)::INTEGER AS n_profiles,
         count(DISTINCT cycle_number)::INTEGER AS n_cycles,
         min(time) AS first_profile_time,
         max(time) AS last_profile_time,
         max(cycle_number) AS last_cycle_number,
         count(*) FILTER (WHERE data_mode = 'R')::INTEGER AS n_profiles_r,
         count(*) FILTER (WHERE data_mode = 'A')::INTEGER AS n_profiles_a,
         count(*) FILTER (WHERE data_mode = 'D')::INTEGER AS n_profiles_d,
         list_sort(list_distinct(flatten(list(parameters)))) AS parameters
  FROM p
  GROUP BY float_id
), pos AS (
  SELECT float_id, latitude, longitude, time
  FROM p
  WHERE latitude IS NOT NULL AND longitude IS NOT NULL AND coalesce(position_qc, 0) NOT IN (3, 4)
  QUALIFY row_number() OVER (PARTITION BY float_id ORDER BY time DESC NULLS LAST, cycle_number DESC, direction, profile_index) = 1
), meta AS (
  SELECT f.float_id, f.dac, to_json(f)::VARCHAR AS meta
  FROM floats f
  WHERE f.float_id IN (SELECT float_id FROM load_floats)
), ids AS (
  SELECT float_id FROM s UNION SELECT float_id FROM meta
)
SELECT
  ids.float_id,
  coalesce(s.dac, meta.dac) AS dac,
  coalesce(meta.meta, '{}') AS meta,
  coalesce(s.n_profiles, 0) AS n_profiles,
  coalesce(s.n_cycles, 0) AS n_cycles,
  strftime(s.first_profile_time, '%Y-%m-%dT%H:%M:%S.%fZ') AS first_profile_time,
  strftime(s.last_profile_time, '%Y-%m-%dT%H:%M:%S.%fZ') AS last_profile_time,
  s.last_cycle_number,
  pos.latitude AS last_latitude,
  pos.longitude AS last_longitude,
  strftime(pos.time, '%Y-%m-%dT%H:%M:%S.%fZ') AS last_position_time,
  coalesce(s.n_profiles_r, 0) AS n_profiles_r,
  coalesce(s.n_profiles_a, 0) AS n_profiles_a,
  coalesce(s.n_profiles_d, 0) AS n_profiles_d,
  coalesce(s.parameters, []::VARCHAR[]) AS parameters
FROM ids
LEFT JOIN s USING (float_id)
LEFT JOIN pos USING (float_id)
LEFT JOIN meta USING (float_id)
ORDER BY ids.float_id;

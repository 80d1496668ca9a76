-- argo-lake serving schema, version 1.
-- Everything here is derived from the lake and can be rebuilt by a full load;
-- natural keys are the primary keys so loads are upserts.

-- Every job run (sync, parse, load, run-float, scheduler ticks): what it did and how it ended.
CREATE TABLE job_runs (
  run_id      text PRIMARY KEY,
  job         text NOT NULL,
  status      text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
  started_at  timestamptz NOT NULL,
  ended_at    timestamptz,
  stats       jsonb NOT NULL DEFAULT '{}'::jsonb,
  error       text,
  runtime     text,
  host        text
);
CREATE INDEX job_runs_job_started ON job_runs (job, started_at DESC);

-- One row per float: its meta file fields (as the lake holds them) and a summary of its profiles.
CREATE TABLE floats (
  float_id             text PRIMARY KEY,
  dac                  text NOT NULL,
  meta                 jsonb NOT NULL DEFAULT '{}'::jsonb,
  n_profiles           integer NOT NULL,
  n_cycles             integer NOT NULL,
  first_profile_time   timestamptz,
  last_profile_time    timestamptz,
  last_cycle_number    integer,
  last_latitude        double precision,
  last_longitude       double precision,
  last_position_time   timestamptz,
  n_profiles_r         integer NOT NULL,
  n_profiles_a         integer NOT NULL,
  n_profiles_d         integer NOT NULL,
  parameters           text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX floats_dac ON floats (dac);
CREATE INDEX floats_last_time ON floats (last_profile_time);

-- One row per profile (a float's cycle, direction and N_PROF index), as in the lake's profiles table.
CREATE TABLE profiles (
  float_id                 text NOT NULL REFERENCES floats (float_id) ON DELETE CASCADE,
  cycle_number             integer NOT NULL,
  direction                text NOT NULL,
  profile_index            integer NOT NULL,
  dac                      text NOT NULL,
  data_mode                text,
  quality_status           text,
  time                     timestamptz,
  juld_qc                  smallint,
  latitude                 double precision,
  longitude                double precision,
  position_qc              smallint,
  positioning_system       text,
  vertical_sampling_scheme text,
  data_centre              text,
  platform_type            text,
  n_levels                 integer,
  max_pres                 double precision,
  parameters               text[] NOT NULL DEFAULT '{}',
  parameter_data_mode      text,
  -- Per parameter: [{parameter, mode, profile_qc, min, max, mean, n}], as in the lake.
  parameter_stats          jsonb NOT NULL DEFAULT '[]'::jsonb,
  source_file              text,
  bgc_source_file          text,
  date_update              timestamptz,
  PRIMARY KEY (float_id, cycle_number, direction, profile_index)
);
CREATE INDEX profiles_time ON profiles (time);
CREATE INDEX profiles_position ON profiles (latitude, longitude);

-- The standard pressure bands of the climatology: pres_min <= PRES < pres_max (dbar). The first
-- band starts at -Infinity (slightly negative pressures are seen at the surface), the last ends
-- at +Infinity. Filled by the load from lake/aggregates/pressure_bands.sql.
CREATE TABLE pressure_bands (
  band      smallint PRIMARY KEY,
  label     text NOT NULL,
  pres_min  double precision NOT NULL,
  pres_max  double precision NOT NULL
);

-- Each float's contribution to each climatology cell: count, sum, sum of squares and m2 (the sum
-- of squared deviations from this float's own mean in the cell) of the best values with good QC.
-- Cells are sums over floats, so a per-float load replaces that float's rows and recomputes only
-- the cells they touch, exactly. The cell's stddev combines the m2s (Chan et al.), which stays
-- accurate where sum_sq - sum^2/n would cancel to noise (many near-equal values).
CREATE TABLE climatology_contrib (
  float_id   text NOT NULL,
  parameter  text NOT NULL,
  lat_bin    smallint NOT NULL,
  lon_bin    smallint NOT NULL,
  month      smallint NOT NULL,
  band       smallint NOT NULL,
  n          bigint NOT NULL,
  sum        double precision NOT NULL,
  sum_sq     double precision NOT NULL,
  m2         double precision NOT NULL,
  PRIMARY KEY (float_id, parameter, lat_bin, lon_bin, month, band)
);
CREATE INDEX climatology_contrib_cell ON climatology_contrib (parameter, lat_bin, lon_bin, month, band);

-- Cells whose contributions changed and that are still to be recomputed. A float's transaction
-- marks its cells here; the load recomputes the marked cells once per batch of floats (cells are
-- shared, so one recomputation serves many floats) and removes the marks it saw, in the same
-- transaction. Marks are never merged: a mark made by a transaction that commits after a
-- recomputation read the contributions must survive it. A load that dies in between leaves its
-- marks for the next load to recompute.
CREATE TABLE climatology_dirty (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  parameter  text NOT NULL,
  lat_bin    smallint NOT NULL,
  lon_bin    smallint NOT NULL,
  month      smallint NOT NULL,
  band       smallint NOT NULL
);

-- The gridded monthly climatology: 1x1 degree (lat_bin = floor(latitude), lon_bin = floor(longitude))
-- x calendar month (UTC) x pressure band, per parameter (temp, psal, doxy). n, sum and sum_sq
-- let a reader combine cells (seasons, larger boxes) by adding them up.
CREATE TABLE climatology (
  parameter  text NOT NULL,
  lat_bin    smallint NOT NULL,
  lon_bin    smallint NOT NULL,
  month      smallint NOT NULL CHECK (month BETWEEN 1 AND 12),
  band       smallint NOT NULL,
  n          bigint NOT NULL,
  n_floats   integer NOT NULL,
  sum        double precision NOT NULL,
  sum_sq     double precision NOT NULL,
  mean       double precision NOT NULL,
  -- Sample standard deviation; null for a single value.
  stddev     double precision,
  PRIMARY KEY (parameter, lat_bin, lon_bin, month, band)
);

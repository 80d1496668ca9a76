-- The climatology's standard pressure bands (dbar): a level belongs to the band with
-- pres_min <= PRES < pres_max. The first band also takes the slightly negative pressures
-- seen at the surface; the last one has no bottom. The load copies this table to Postgres.
CREATE OR REPLACE TEMP TABLE pressure_bands AS
SELECT band::SMALLINT AS band, label, pres_min, pres_max
FROM (VALUES
  (0, '0-10',      '-infinity'::DOUBLE, 10::DOUBLE),
  (1, '10-50',     10,                  50),
  (2, '50-100',    50,                  100),
  (3, '100-200',   100,                 200),
  (4, '200-500',   200,                 500),
  (5, '500-1000',  500,                 1000),
  (6, '1000-2000', 1000,                2000),
  (7, '2000+',     2000,                'infinity'::DOUBLE)
) AS t(band, label, pres_min, pres_max);

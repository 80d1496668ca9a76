/**
 * What the plots draw, read from the lake's views (lake/views.ts) through
 * DuckDB: a float's positions, its latest profiles and its temperature
 * section. The rows are checked by zod as they leave DuckDB. Values are the
 * Argo best values; levels flagged bad (QC 3 or 4) are left out of the plots,
 * unflagged and good ones are drawn. Only primary profiles (N_PROF index 0)
 * are drawn: the other indexes of a cycle are other samplings of the same
 * station.
 */
import { z } from "zod";
import type { LakeQuery } from "../serve/backends.ts";

/** Levels drawn: measured (not null) and not flagged bad. */
const good = (p: string) => `${p} IS NOT NULL AND coalesce(${p}_qc, 0) NOT IN (3, 4)`;

const num = z.number();
const time = z.number().nullable();

/** One position of a float. */
export const PositionSchema = z.object({
  cycle_number: z.number().int(),
  direction: z.string(),
  time_ms: time,
  latitude: num,
  longitude: num,
  position_qc: z.number().int().nullable(),
});
export type Position = z.infer<typeof PositionSchema>;

/** Where a float was: one position per primary profile that has one, in time order. */
export async function trajectoryData(lake: LakeQuery, wmo: string): Promise<Position[]> {
  const rows = await lake.all(
    `SELECT cycle_number, direction, epoch_ms(time) AS time_ms, latitude, longitude, CAST(position_qc AS INTEGER) AS position_qc
       FROM profiles
      WHERE float_id = $1 AND profile_index = 0 AND latitude IS NOT NULL AND longitude IS NOT NULL
      ORDER BY time_ms NULLS LAST, cycle_number, direction DESC`,
    [wmo],
  );
  return z.array(PositionSchema).parse(rows);
}

/** One profile's levels (pressure increasing). */
export const ProfileCurveSchema = z.object({
  cycle_number: z.number().int(),
  direction: z.string(),
  time_ms: time,
  pres: z.array(num),
  temp: z.array(num.nullable()),
  psal: z.array(num.nullable()),
});
export type ProfileCurve = z.infer<typeof ProfileCurveSchema>;

/** The latest `count` primary profiles (highest cycles first in the lake's order), each with its good levels. */
export async function profilesData(lake: LakeQuery, wmo: string, count: number): Promise<ProfileCurve[]> {
  const rows = await lake.all(
    `WITH latest AS (
       SELECT cycle_number, direction FROM profiles
        WHERE float_id = $1 AND profile_index = 0
        ORDER BY cycle_number DESC, direction LIMIT $2)
     SELECT m.cycle_number, m.direction, epoch_ms(any_value(m.time)) AS time_ms,
            list(m.pres ORDER BY m.pres) AS pres,
            list(CASE WHEN ${good("m.temp")} THEN m.temp END ORDER BY m.pres) AS temp,
            list(CASE WHEN ${good("m.psal")} THEN m.psal END ORDER BY m.pres) AS psal
       FROM measurements m JOIN latest l USING (cycle_number, direction)
      WHERE m.float_id = $1 AND m.profile_index = 0 AND ${good("m.pres")}
      GROUP BY m.cycle_number, m.direction
      ORDER BY m.cycle_number, m.direction DESC`,
    [wmo, count],
  );
  return z.array(ProfileCurveSchema).parse(rows);
}

/** One column of a section: a profile's time and its good (pressure, temperature) pairs. */
export const SectionColumnSchema = z.object({
  cycle_number: z.number().int(),
  direction: z.string(),
  time_ms: num,
  pres: z.array(num),
  temp: z.array(num),
});
export type SectionColumn = z.infer<typeof SectionColumnSchema>;

/** Every primary profile with a time and good temperatures, in time order. */
export async function sectionData(lake: LakeQuery, wmo: string): Promise<SectionColumn[]> {
  const rows = await lake.all(
    `SELECT cycle_number, direction, epoch_ms(any_value(time)) AS time_ms,
            list(pres ORDER BY pres) AS pres, list(temp ORDER BY pres) AS temp
       FROM measurements
      WHERE float_id = $1 AND profile_index = 0 AND time IS NOT NULL AND ${good("pres")} AND ${good("temp")}
      GROUP BY cycle_number, direction
      ORDER BY time_ms, cycle_number, direction DESC`,
    [wmo],
  );
  return z.array(SectionColumnSchema).parse(rows);
}

/** Whether the lake has any profile of the float (a plot of an unknown float is a 404, not an empty picture). */
export async function floatInLake(lake: LakeQuery, wmo: string): Promise<boolean> {
  return (await lake.all("SELECT 1 FROM profiles WHERE float_id = $1 LIMIT 1", [wmo])).length > 0;
}

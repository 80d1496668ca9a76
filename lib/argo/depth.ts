/**
 * Depth from pressure: UNESCO 1983 (Fofonoff & Millard, UNESCO technical
 * papers in marine science 44), Saunders-Fofonoff formula, as in Argo tools.
 * Check value: 10000 dbar at 30 degrees latitude = 9712.653 m.
 */

/** Gravity at the sea surface (m/s^2) at a latitude, the formula's first term. */
function surfaceGravity(latitudeDeg: number): number {
  const x = Math.sin(latitudeDeg / 57.29578) ** 2;
  return 9.780318 * (1.0 + (5.2788e-3 + 2.36e-5 * x) * x);
}

function depthWithGravity(p: number, g0: number): number {
  return ((((-1.82e-15 * p + 2.279e-10) * p - 2.2512e-5) * p + 9.72659) * p) / (g0 + 1.092e-6 * p);
}

/** Depth in metres for a pressure in dbar at a latitude in degrees. */
export function depthFromPressure(pressureDbar: number, latitudeDeg: number): number {
  return depthWithGravity(pressureDbar, surfaceGravity(latitudeDeg));
}

/**
 * Depths for a column of pressures (NaN = none). Without a latitude the
 * result is all NaN: gravity, hence depth, depends on it, and a depth made up
 * from a guessed latitude would look measured.
 */
export function depthColumn(pressures: ArrayLike<number>, latitudeDeg: number | null): Float64Array {
  const out = new Float64Array(pressures.length);
  if (latitudeDeg === null || !Number.isFinite(latitudeDeg)) return out.fill(NaN);
  const g0 = surfaceGravity(latitudeDeg);
  for (let i = 0; i < pressures.length; i++) out[i] = depthWithGravity(pressures[i]!, g0);
  return out;
}

/**
 * Argo identifiers: WMO float numbers and DAC names. Validated before they
 * reach a path, a URL or a query, because they come from users and from the
 * network.
 */

/** The eleven Argo Data Assembly Centres, as named in GDAC paths. */
export const DACS = ["aoml", "bodc", "coriolis", "csio", "csiro", "incois", "jma", "kma", "kordi", "meds", "nmdis"] as const;
export type Dac = (typeof DACS)[number];

/** A WMO float id has 5 or 7 digits. */
export function isWmo(v: string): boolean {
  return /^(\d{5}|\d{7})$/.test(v);
}

/** A known DAC name (lower case). */
export function isDac(v: string): v is Dac {
  return (DACS as readonly string[]).includes(v);
}

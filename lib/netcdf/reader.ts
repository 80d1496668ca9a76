/**
 * Opens NetCDF bytes with the right reader, chosen by magic bytes:
 * `CDF\x01`/`CDF\x02` -> lib/netcdf/netcdf3.ts, `\x89HDF` -> h5wasm.
 */
import { ParseError } from "../errors.ts";
import { openNetcdf3 } from "./netcdf3.ts";
import { asParseError, type NetcdfFormat, type NetcdfReader } from "./types.ts";

/** First bytes of the two formats; anything else is not NetCDF we can read. */
const HDF5_MAGIC = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** Which format the bytes are in, or null when they are neither NetCDF-3 nor HDF5. */
export function sniffFormat(bytes: Uint8Array): NetcdfFormat | null {
  if (bytes.length >= 4 && bytes[0] === 0x43 && bytes[1] === 0x44 && bytes[2] === 0x46) {
    if (bytes[3] === 1) return "netcdf3-classic";
    if (bytes[3] === 2) return "netcdf3-64bit-offset";
    return null;
  }
  if (bytes.length >= HDF5_MAGIC.length && HDF5_MAGIC.every((b, i) => bytes[i] === b)) return "netcdf4-hdf5";
  return null;
}

/**
 * Opens NetCDF bytes with the reader their magic bytes call for. Errors are
 * returned, not thrown, so a caller walking many files goes on.
 */
export async function openNetcdf(bytes: Uint8Array, file: string): Promise<NetcdfReader | ParseError> {
  const format = sniffFormat(bytes);
  try {
    if (format === "netcdf3-classic" || format === "netcdf3-64bit-offset") {
      return openNetcdf3(bytes, file, format);
    }
    if (format === "netcdf4-hdf5") {
      // h5wasm is large and rarely needed (a few _Sprof.nc files): load it on first use.
      const { openHdf5 } = await import("./hdf5.ts");
      return await openHdf5(bytes, file);
    }
  } catch (err) {
    return asParseError(err, file, "file");
  }
  const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
  const what = bytes.length < 4 ? `only ${bytes.length} bytes` : `starts with ${head}`;
  return new ParseError(`not a NetCDF file (${what}; expected CDF\\x01, CDF\\x02 or \\x89HDF)`, { file, where: "magic bytes" });
}


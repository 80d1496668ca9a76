/** Reading NetCDF-3 and NetCDF-4/HDF5 Argo files into parsed records. */
export { parseArgoFile, readArgoFile, type ParseOptions } from "./parse.ts";
export { openNetcdf, sniffFormat } from "./reader.ts";
export type { NcAttributeValue, NcData, NcType, NcVariable, NetcdfFormat, NetcdfReader } from "./types.ts";
export { NetcdfFormatSchema } from "./types.ts";

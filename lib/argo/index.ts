/** Argo logic, I/O-free: schemas and types, decoding, best values, statistics, depth, merging, ProfileData. */
export * from "./schema.ts";
export { ARGO_EPOCH_MS, decodeQc, decodeString, float32ToShortest, juldToEpochMs, parseArgoDate, qcAt, valueAt } from "./decode.ts";
export { qualityStatusOf, selectBest, usesAdjusted } from "./best.ts";
export { goodValueStats } from "./stats.ts";
export { depthColumn, depthFromPressure } from "./depth.ts";
export { groupByFloat, mergeCoreAndBgc, mergeCycleFiles } from "./merge.ts";
export { toProfileData } from "./profile-data.ts";

/**
 * Validation of the deploy/ examples, offline:
 *
 * - Kubernetes manifests against the published Kubernetes OpenAPI schemas as
 *   kubernetes-models ships them (compiled to validators, so nothing is
 *   fetched): types, enums, required fields of every object.
 * - AWS Batch CLI input JSON against the request shapes of
 *   @aws-sdk/client-batch (RegisterJobDefinition, SubmitJob): the Smithy
 *   schemas the SDK serialises with, read through @smithy/core's
 *   NormalizedSchema. No maintained npm package ships a JSON schema of the
 *   Batch API's input (the CloudFormation specs describe AWS::Batch::*
 *   resources, a different shape), so this is the documented fallback: member
 *   names (unknown ones are errors), required members, value types, and the
 *   SDK's enums for the fields that have one.
 */
import { readFileSync } from "node:fs";
import { NormalizedSchema } from "@smithy/core/schema";
import { AssignPublicIp, JobDefinitionType, PlatformCapability, ResourceType } from "@aws-sdk/client-batch";
import { CronJob } from "kubernetes-models/batch/v1/CronJob";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { parseAllDocuments } from "yaml";

/** One Kubernetes object of a manifest file. */
export type K8sObject = Record<string, unknown> & { apiVersion: string; kind: string };

/** The models we validate against, by apiVersion/kind. */
const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  "batch/v1/CronJob": CronJob,
  "apps/v1/Deployment": Deployment,
  "v1/ServiceAccount": ServiceAccount,
};

/** Every document of a YAML manifest file; a YAML syntax error is thrown with the file name. */
export function readManifest(path: string): K8sObject[] {
  const docs = parseAllDocuments(readFileSync(path, "utf8"));
  return docs.map((d, i) => {
    if (d.errors.length) throw new Error(`${path} document ${i + 1}: ${d.errors[0].message}`);
    return d.toJS() as K8sObject;
  });
}

/** Schema errors of one Kubernetes object (empty when valid); an unknown kind is an error. */
export function validateK8s(obj: K8sObject): string[] {
  const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (!Model) return [`no schema for ${obj.apiVersion} ${obj.kind}`];
  try {
    new Model(obj as never).validate();
    return [];
  } catch (err) {
    return String((err as Error).message).split(", ");
  }
}

/** Enum constraints the Smithy shapes leave out (they carry enums as plain strings), by member path suffix. */
const BATCH_ENUMS: [RegExp, readonly string[]][] = [
  [/^type$/, Object.values(JobDefinitionType)],
  [/^platformCapabilities\[\d+\]$/, Object.values(PlatformCapability)],
  [/resourceRequirements\[\d+\]\.type$/, Object.values(ResourceType)],
  [/networkConfiguration\.assignPublicIp$/, Object.values(AssignPublicIp)],
];

/**
 * Errors of a value against a Smithy shape (empty when valid): unknown
 * members, missing required ones, wrong value types, values outside the
 * SDK's enums.
 */
export function validateSmithy(value: unknown, shape: unknown, path = ""): string[] {
  const ns = NormalizedSchema.of(shape as never);
  const at = path || "(root)";
  const errors: string[] = [];
  if (ns.isStructSchema()) {
    if (!value || typeof value !== "object" || Array.isArray(value)) return [`${at}: expected an object (${ns.getName()})`];
    const members = new Map([...ns.structIterator()]);
    // A static structure schema lists its required members first and says how many there are.
    const schema = ns.getSchema() as unknown[];
    const required = (schema[4] as string[]).slice(0, Number(schema[6] ?? 0));
    for (const r of required) if ((value as Record<string, unknown>)[r] === undefined) errors.push(`${at}: missing required ${r}`);
    for (const [k, v] of Object.entries(value)) {
      const m = members.get(k);
      const sub = path ? `${path}.${k}` : k;
      if (!m) errors.push(`${sub}: not a member of ${ns.getName()} (expected one of ${[...members.keys()].join(", ")})`);
      else errors.push(...validateSmithy(v, m, sub));
    }
  } else if (ns.isListSchema()) {
    if (!Array.isArray(value)) return [`${at}: expected a list`];
    value.forEach((v, i) => errors.push(...validateSmithy(v, ns.getValueSchema(), `${path}[${i}]`)));
  } else if (ns.isMapSchema()) {
    if (!value || typeof value !== "object" || Array.isArray(value)) return [`${at}: expected a map`];
    for (const [k, v] of Object.entries(value)) errors.push(...validateSmithy(v, ns.getValueSchema(), `${path}.${k}`));
  } else if (ns.isStringSchema()) {
    if (typeof value !== "string") return [`${at}: expected a string, got ${JSON.stringify(value)}`];
    const allowed = BATCH_ENUMS.find(([re]) => re.test(path))?.[1];
    if (allowed && !allowed.includes(value)) errors.push(`${at}: ${JSON.stringify(value)} is not one of ${allowed.join(", ")}`);
  } else if (ns.isNumericSchema()) {
    if (typeof value !== "number" || !Number.isFinite(value)) return [`${at}: expected a number, got ${JSON.stringify(value)}`];
  } else if (ns.isBooleanSchema()) {
    if (typeof value !== "boolean") return [`${at}: expected true or false, got ${JSON.stringify(value)}`];
  }
  return errors;
}

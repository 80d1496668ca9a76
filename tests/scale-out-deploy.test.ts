/**
 * The deploy/ examples stay runnable: the Kubernetes manifests validate
 * against the published Kubernetes schemas (kubernetes-models, offline), the
 * AWS Batch CLI inputs against the Batch API's request shapes
 * (@aws-sdk/client-batch), and both say what an operator relies on: resource
 * requests, the scheduler's probes and metrics, secrets from the platform's
 * secret store, settings the jobs accept, and a shard count that matches the
 * number of workers.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { RegisterJobDefinitionRequest$, SubmitJobRequest$ } from "@aws-sdk/client-batch";
import { describe, expect, it } from "vitest";
import { configKeys, loadConfig } from "../lib/config.ts";
import { repoRoot } from "./support/fixtures.ts";
import type { ICronJob } from "kubernetes-models/batch/v1/CronJob";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import { type K8sObject, readManifest, validateK8s, validateSmithy } from "./support/deploy.ts";

const k8sDir = join(repoRoot, "deploy", "kubernetes");
const batchDir = join(repoRoot, "deploy", "aws-batch");

/** Variables that hold credentials: they must come from a secret store, never as a literal value. */
const SECRET_VARIABLES = ["DATABASE_URL", "REDIS_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "PGPASSWORD"];

/** Variables the platform or the scheduler's metrics server reads besides the job configuration. */
const PLATFORM_VARIABLES = ["JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX", "METRICS_PORT"];

type PodTemplate = NonNullable<IDeployment["spec"]>["template"];

/** The pod template of a workload object. */
function podTemplate(o: K8sObject): PodTemplate {
  return o.kind === "CronJob" ? (o as unknown as ICronJob).spec!.jobTemplate.spec!.template : (o as unknown as IDeployment).spec!.template;
}

/** Whether an object runs pods (the others, e.g. a ServiceAccount, have no containers to check). */
const isWorkload = (o: K8sObject) => o.kind === "CronJob" || o.kind === "Deployment";

/** The containers of a workload object's pods. */
const containersOf = (o: K8sObject) => podTemplate(o).spec!.containers;

const manifests = readdirSync(k8sDir).filter((f) => /\.ya?ml$/.test(f)).sort();

describe("deploy/kubernetes", () => {
  const all = manifests.flatMap((f) => readManifest(join(k8sDir, f)));

  it("has the sharded CronJob, the scheduler Deployment and the service account both run as", () => {
    expect(all.map((o) => o.kind).sort()).toEqual(["CronJob", "Deployment", "ServiceAccount"]);
    const accounts = all.filter((o) => o.kind === "ServiceAccount").map((o) => (o.metadata as { name: string }).name);
    for (const o of all.filter(isWorkload)) expect(accounts).toContain(podTemplate(o).spec!.serviceAccountName);
  });

  for (const file of manifests) {
    describe(file, () => {
      const objects = readManifest(join(k8sDir, file));
      const workloads = objects.filter(isWorkload);

      it("validates against the Kubernetes schemas", () => {
        for (const o of objects) expect(validateK8s(o), `${o.kind} ${(o.metadata as { name: string }).name}`).toEqual([]);
      });

      if (workloads.length === 0) return;

      it("requests resources, probes /healthz and exposes /metrics on METRICS_PORT for Prometheus", () => {
        for (const o of workloads) {
          const pod = podTemplate(o);
          for (const c of containersOf(o)) {
            expect(c.resources?.requests?.cpu, `${c.name} cpu request`).toBeTruthy();
            expect(c.resources?.requests?.memory, `${c.name} memory request`).toBeTruthy();
            expect(c.resources?.limits?.memory, `${c.name} memory limit`).toBeTruthy();
            const port = Number(c.env?.find((e) => e.name === "METRICS_PORT")?.value);
            expect(port, "METRICS_PORT").toBeGreaterThan(0);
            const probePort = c.livenessProbe?.httpGet?.port;
            const resolved = typeof probePort === "number" ? probePort : c.ports?.find((p) => p.name === probePort)?.containerPort;
            expect(c.livenessProbe?.httpGet?.path).toBe("/healthz");
            expect(resolved, "liveness probe port").toBe(port);
            if (c.readinessProbe) expect(c.readinessProbe.httpGet?.path).toBe("/healthz");
            expect(pod.metadata?.annotations).toMatchObject({
              "prometheus.io/scrape": "true",
              "prometheus.io/port": String(port),
              "prometheus.io/path": "/metrics",
            });
          }
        }
      });

      it("takes credentials from a Kubernetes Secret and gives the jobs only settings they accept", () => {
        for (const o of workloads) {
          for (const c of containersOf(o)) {
            const env = c.env ?? [];
            for (const name of ["DATABASE_URL", "REDIS_URL"]) {
              const e = env.find((x) => x.name === name);
              expect(e?.valueFrom?.secretKeyRef, `${name} from a secretKeyRef`).toMatchObject({ name: expect.any(String), key: name });
            }
            for (const e of env) {
              if (SECRET_VARIABLES.includes(e.name)) expect(e.value, `${e.name} must not be a literal`).toBeUndefined();
              expect([...configKeys, ...PLATFORM_VARIABLES], `${e.name} is a setting the jobs read`).toContain(e.name);
            }
            const literal = Object.fromEntries(env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
            // The values parse as the jobs parse them (secrets stand in as placeholders).
            expect(() => loadConfig({ env: { ...literal, DATABASE_URL: "postgres://h/db", REDIS_URL: "redis://h" }, envFile: "/nonexistent" })).not.toThrow();
          }
        }
      });
    });
  }

  it("runs one shard per Indexed Job pod, as many shards as pods, each exiting cleanly within its grace period", () => {
    const job = all.find((o) => o.kind === "CronJob")!;
    const spec = (job as unknown as ICronJob).spec!.jobTemplate.spec!;
    const pod = podTemplate(job);
    const c = containersOf(job)[0];
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
    expect(spec.completionMode).toBe("Indexed");
    expect(env.SHARD).toBe(`auto/${spec.completions}`);
    expect(spec.parallelism).toBe(spec.completions);
    expect(c.command).toEqual(["deno", "task", "schedule", "--once"]);
    expect(pod.spec!.terminationGracePeriodSeconds).toBeGreaterThan(Number(env.SHUTDOWN_TIMEOUT));
  });

  it("the validator rejects a wrong type, a missing required field and a bad enum", () => {
    const [job] = readManifest(join(k8sDir, "cronjob-sharded.yaml"));
    const broken = structuredClone(job) as unknown as ICronJob;
    const jobSpec = broken.spec!.jobTemplate.spec! as unknown as Record<string, unknown>;
    const container = broken.spec!.jobTemplate.spec!.template.spec!.containers[0] as unknown as Record<string, unknown>;
    (broken.spec as unknown as Record<string, unknown>).schedule = 6;
    jobSpec.completionMode = "Sharded";
    delete container.name;
    (container.resources as { requests: Record<string, unknown> }).requests.cpu = { cores: 1 };
    const errors = validateK8s(broken as unknown as K8sObject).join("\n");
    expect(errors).toMatch(/spec\/schedule must be string/);
    expect(errors).toMatch(/completionMode must be equal to one of the allowed values/);
    expect(errors).toMatch(/containers\/0 must have required property '?name'?/);
    expect(errors).toMatch(/requests\/cpu/);
  });
});

describe("deploy/aws-batch", () => {
  const jobDefinition = JSON.parse(readFileSync(join(batchDir, "job-definition.json"), "utf8"));
  const submit = JSON.parse(readFileSync(join(batchDir, "submit-array-job.json"), "utf8"));

  it("job-definition.json is a valid RegisterJobDefinition input", () => {
    expect(validateSmithy(jobDefinition, RegisterJobDefinitionRequest$)).toEqual([]);
  });

  it("submit-array-job.json is a valid SubmitJob input for that job definition", () => {
    expect(validateSmithy(submit, SubmitJobRequest$)).toEqual([]);
    expect(submit.jobDefinition).toBe(jobDefinition.jobDefinitionName);
  });

  it("requests vCPU and memory, takes credentials from Secrets Manager, and runs one shard per array child", () => {
    const c = jobDefinition.containerProperties;
    const req = Object.fromEntries(c.resourceRequirements.map((r: { type: string; value: string }) => [r.type, r.value]));
    expect(Number(req.VCPU)).toBeGreaterThan(0);
    expect(Number(req.MEMORY)).toBeGreaterThan(0);
    const secrets = Object.fromEntries(c.secrets.map((s: { name: string; valueFrom: string }) => [s.name, s.valueFrom]));
    for (const name of ["DATABASE_URL", "REDIS_URL"]) expect(secrets[name]).toMatch(/^arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:/);
    // Fargate reads secrets with the execution role.
    expect(c.executionRoleArn).toMatch(/^arn:aws:iam::\d{12}:role\//);
    const env = [...c.environment, ...submit.containerOverrides.environment] as { name: string; value: string }[];
    for (const e of env) {
      expect(SECRET_VARIABLES, `${e.name} must come from secrets`).not.toContain(e.name);
      expect([...configKeys, ...PLATFORM_VARIABLES]).toContain(e.name);
    }
    const literal = Object.fromEntries(env.map((e) => [e.name, e.value]));
    expect(() => loadConfig({ env: { ...literal, DATABASE_URL: "postgres://h/db", REDIS_URL: "redis://h" }, envFile: "/nonexistent" })).not.toThrow();
    expect(literal.SHARD).toBe(`auto/${submit.arrayProperties.size}`);
    expect(c.command).toEqual(["deno", "task", "schedule", "--once"]);
    expect(jobDefinition.timeout.attemptDurationSeconds).toBeGreaterThan(0);
  });

  it("the validator rejects an unknown member, a missing required one, a wrong type and a bad enum", () => {
    const broken = structuredClone(jobDefinition);
    delete broken.jobDefinitionName;
    broken.containerProperties.resourceRequirement = [];
    broken.containerProperties.resourceRequirements[0].type = "CPU";
    broken.retryStrategy.attempts = "2";
    const errors = validateSmithy(broken, RegisterJobDefinitionRequest$).join("\n");
    expect(errors).toMatch(/missing required jobDefinitionName/);
    expect(errors).toMatch(/containerProperties\.resourceRequirement: not a member of ContainerProperties/);
    expect(errors).toMatch(/resourceRequirements\[0\]\.type: "CPU" is not one of/);
    expect(errors).toMatch(/retryStrategy\.attempts: expected a number/);
  });
});

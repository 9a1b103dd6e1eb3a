/**
 * deploy/k8s: valid against the Kubernetes API schemas (offline, through
 * scripts/validate-k8s.ts), consistent with each other and with the server,
 * and a broken manifest is caught with file:line and the field's path.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULTS, loadConfig, SETTINGS } from "../src/config.js";
import { manifestFiles, validateManifests, type ManifestObject } from "../scripts/validate-k8s.js";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const K8S = path.join(REPO, "deploy", "k8s");

// Loosely typed views of the objects, for the assertions below.
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let objects: ManifestObject[];
const find = (kind: string, name?: string): Obj => {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.name === name));
  expect(found, `${kind} ${name ?? ""}`).toHaveLength(1);
  return found[0]!.object as Obj;
};

beforeAll(async () => {
  const report = await validateManifests(manifestFiles([K8S]));
  expect(report.problems).toEqual([]);
  objects = report.objects;
});

describe("deploy/k8s manifests", () => {
  it("hold a Deployment, two Services, an HPA, a PDB and a kustomization", () => {
    expect(objects.map((o) => `${o.apiVersion} ${o.kind}`).sort()).toEqual([
      "apps/v1 Deployment",
      "autoscaling/v2 HorizontalPodAutoscaler",
      "kustomize.config.k8s.io/v1beta1 Kustomization",
      "policy/v1 PodDisruptionBudget",
      "v1 Service",
      "v1 Service",
    ]);
    const kustomization = find("Kustomization");
    const yamlFiles = manifestFiles([K8S]).map((f) => path.basename(f));
    expect([...kustomization.resources, "kustomization.yaml"].sort()).toEqual(yamlFiles);
  });

  it("run the server locked down: non-root, read-only root, no privilege escalation, no capabilities", () => {
    const pod = find("Deployment").spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.containers).toHaveLength(1);
    const [container] = pod.containers;
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(container.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.resources.limits).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
  });

  it("probe gRPC health natively on 50051 and readiness over HTTP on 8080", () => {
    const [container] = find("Deployment").spec.template.spec.containers;
    expect(container.ports).toEqual([
      { name: "grpc", containerPort: 50051, protocol: "TCP" },
      { name: "http", containerPort: 8080, protocol: "TCP" },
    ]);
    expect(container.livenessProbe.grpc).toEqual({ port: 50051 });
    expect(container.startupProbe.grpc).toEqual({ port: 50051 });
    // The Open Inference Protocol's server readiness: 503 before the model is loaded and while draining.
    expect(container.readinessProbe.httpGet).toEqual({ path: "/v2/health/ready", port: "http" });
    for (const probe of [container.livenessProbe, container.startupProbe]) {
      expect(probe.httpGet ?? probe.tcpSocket ?? probe.exec).toBeUndefined();
    }
  });

  it("give the pod longer to stop than the server's preStop pause plus drain period", () => {
    const pod = find("Deployment").spec.template.spec;
    const [container] = pod.containers;
    const env = Object.fromEntries(container.env.map((e: Obj) => [e.name, e.value]));
    const drainMs = Number(env.IRIS_SHUTDOWN_GRACE_MS ?? DEFAULTS.shutdownGraceMs);
    const preStopSeconds = Number(container.lifecycle.preStop.exec.command.at(-1));
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStopSeconds + drainMs / 1000);
    // Every IRIS_* variable is one the server reads.
    const read = Object.values(SETTINGS).map((s) => s.env);
    const set = Object.keys(env).filter((k) => k.startsWith("IRIS_"));
    expect(read).toEqual(expect.arrayContaining(set));
    expect(set).toEqual(expect.arrayContaining(["IRIS_HOST", "IRIS_PORT", "IRIS_SHUTDOWN_GRACE_MS", "IRIS_MAX_CONNECTION_AGE_MS"]));
    // Each value passes the server's own configuration check.
    expect(loadConfig({ env }).maxConnectionAgeMs).toBeGreaterThan(0);
    expect(env.IRIS_PORT).toBe(String(container.ports[0].containerPort));
    expect(env.IRIS_HTTP_PORT).toBe(String(container.ports[1].containerPort));
  });

  it("set every connection, call and memory limit explicitly, within what the pod's memory limit can hold", () => {
    const [container] = find("Deployment").spec.template.spec.containers;
    const env = Object.fromEntries(container.env.map((e: Obj) => [e.name, e.value]));
    const limitEnvs = (
      [
        "maxConnections", "maxConcurrentStreams", "maxConcurrentCalls", "maxInflightBytes", "maxUnreadBytesPerConnection",
        "maxUnreadBytes", "requestTimeoutMs", "idleTimeoutMs", "keepaliveTimeMs", "keepaliveTimeoutMs", "httpKeepAliveTimeoutMs",
      ] as const
    ).map((k) => SETTINGS[k].env);
    expect(Object.keys(env)).toEqual(expect.arrayContaining(limitEnvs));
    const config = loadConfig({ env });
    const memoryLimit = 256 * 1024 * 1024;
    expect(container.resources.limits.memory).toBe("256Mi");
    // Request bytes in progress and unread answers together take at most a quarter of the pod's memory.
    expect(config.maxInflightBytes + config.maxUnreadBytes).toBeLessThanOrEqual(memoryLimit / 4);
    expect(config.idleTimeoutMs).toBeGreaterThan(0);
    expect(config.keepaliveTimeMs).toBeGreaterThan(0);
  });

  it("select the Deployment's pods from both Services, the PDB and the HPA", () => {
    const deployment = find("Deployment");
    const podLabels = deployment.spec.template.metadata.labels;
    const selector = deployment.spec.selector.matchLabels;
    expect(podLabels).toMatchObject(selector);
    const cluster = find("Service", "iris-serve");
    const headless = find("Service", "iris-serve-headless");
    expect(cluster.spec.type).toBe("ClusterIP");
    expect(headless.spec.clusterIP).toBe("None");
    for (const service of [cluster, headless]) {
      expect(podLabels).toMatchObject(service.spec.selector);
      expect(service.spec.ports).toEqual([
        { name: "grpc", port: 50051, targetPort: "grpc", protocol: "TCP", appProtocol: "grpc" },
        { name: "http", port: 8080, targetPort: "http", protocol: "TCP", appProtocol: "http" },
      ]);
    }
    expect(podLabels).toMatchObject(find("PodDisruptionBudget").spec.selector.matchLabels);
    const hpa = find("HorizontalPodAutoscaler").spec;
    expect(hpa.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: deployment.metadata.name });
    expect(hpa.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.maxReplicas).toBeGreaterThan(hpa.minReplicas);
    // With maxUnavailable 1 and at least 2 replicas, a drain never takes the service down.
    expect(find("PodDisruptionBudget").spec.maxUnavailable).toBe(1);
  });
});

describe("scripts/validate-k8s.ts catches broken manifests", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "iris-k8s-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Copies deploy/k8s/NAME with one text replacement and validates the copy. */
  async function broken(name: string, from: string, to: string) {
    const text = await readFile(path.join(K8S, name), "utf8");
    expect(text).toContain(from);
    const file = path.join(dir, name);
    await writeFile(file, text.replace(from, to));
    const { problems } = await validateManifests([file]);
    return { problems, line: text.slice(0, text.indexOf(from)).split("\n").length, file };
  }

  it("a misspelt field, however deep", async () => {
    const { problems, line, file } = await broken(
      "deployment.yaml",
      "readOnlyRootFilesystem: true",
      "readOnlyRootFileSystem: true",
    );
    expect(problems).toEqual([
      {
        file,
        line,
        column: 13,
        field: "spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem",
        message: 'unknown field "readOnlyRootFileSystem" (not a field of SecurityContext)',
      },
    ]);
  });

  it("a wrong type", async () => {
    const { problems, line } = await broken("deployment.yaml", "containerPort: 50051", 'containerPort: "50051"');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ line, field: "spec.template.spec.containers[0].ports[0].containerPort" });
    expect(problems[0]!.message).toBe("must be integer");
  });

  it("a value outside an enum", async () => {
    const { problems } = await broken("deployment.yaml", "type: RuntimeDefault", "type: RuntimeDefalt");
    expect(problems.map((p) => [p.field, p.message])).toEqual([
      [
        "spec.template.spec.securityContext.seccompProfile.type",
        "must be equal to one of the allowed values (Localhost, RuntimeDefault, Unconfined)",
      ],
    ]);
  });

  it("a missing required field", async () => {
    const { problems } = await broken("hpa.yaml", "  maxReplicas: 10\n", "");
    expect(problems.map((p) => [p.field, p.message])).toEqual([["spec", "must have required property maxReplicas"]]);
  });

  it("a kind the API version does not have, or an old API version", async () => {
    const kind = await broken("pdb.yaml", "kind: PodDisruptionBudget", "kind: PodDisruptionBudgets");
    expect(kind.problems.map((p) => p.message)).toEqual(["the Kubernetes API has no kind PodDisruptionBudgets in policy/v1"]);
    const version = await broken("hpa.yaml", "apiVersion: autoscaling/v2", "apiVersion: autoscaling/v3");
    expect(version.problems).toHaveLength(1);
  });

  it("invalid YAML and a kustomization naming a missing file", async () => {
    const yaml = await broken("service.yaml", "  type: ClusterIP\n", "  type: ClusterIP\n   bad: indent\n");
    expect(yaml.problems[0]!.message).toMatch(/^YAML: /);
    const kustomization = await broken("kustomization.yaml", "  - pdb.yaml", "  - pdbs.yaml");
    expect(kustomization.problems.map((p) => p.message)).toContain('resource "pdbs.yaml" does not exist');
  });
});

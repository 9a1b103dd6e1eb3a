/**
 * deploy/kserve: valid against KServe's CRD schemas (offline, strictly,
 * through scripts/validate-kserve.ts), consistent with each other, with the
 * server's flags and defaults and with deploy/k8s; and a broken manifest is
 * caught with file:line:column and the field's path.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { DEFAULTS, loadConfig, SETTINGS } from "../src/config.js";
import { ARTIFACT_FORMAT } from "../src/model/index.js";
import { KSERVE_PROTOCOLS, manifestFiles, strictSchema, validateKServeManifests } from "../scripts/validate-kserve.js";
import type { ManifestObject } from "../scripts/validate-k8s.js";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const KSERVE = path.join(REPO, "deploy", "kserve");

/** What `iris serve` accepts: one flag and one variable per setting of the config reader (src/config.ts). */
const SERVE_FLAGS = Object.values(SETTINGS).map((s) => s.flag);
const SERVE_ENV = Object.values(SETTINGS).map((s) => s.env);
const SERVE_DEFAULTS = { grpcPort: DEFAULTS.port, httpPort: DEFAULTS.httpPort };

/** Where KServe's storage initializer puts the model (DefaultModelLocalMountPath). */
const KSERVE_MODEL_DIR = "/mnt/models";

// Loosely typed views of the objects, for the assertions below.
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let objects: ManifestObject[];
const all = (kind: string): Obj[] => objects.filter((o) => o.kind === kind).map((o) => o.object as Obj);
const find = (kind: string, name?: string): Obj => {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.name === name));
  expect(found, `${kind} ${name ?? ""}`).toHaveLength(1);
  return found[0]!.object as Obj;
};

/** The runtime container's `--flag=value` arguments after the `serve` command. */
function serveArgs(runtime: Obj): Map<string, string> {
  const [container] = runtime.spec.containers;
  const [command, ...flags] = container.args as string[];
  expect(command).toBe("serve");
  return new Map(
    flags.map((arg) => {
      const match = /^--([a-z][a-z-]*)=(.*)$/.exec(arg);
      expect(match, `${arg} is --flag=value`).not.toBeNull();
      return [match![1]!, match![2]!];
    }),
  );
}

beforeAll(async () => {
  const report = await validateKServeManifests(manifestFiles([KSERVE]));
  expect(report.problems).toEqual([]);
  objects = report.objects;
});

describe("deploy/kserve manifests", () => {
  it("hold a ServingRuntime, its ClusterServingRuntime twin, two InferenceServices and a kustomization", () => {
    expect(objects.map((o) => `${o.apiVersion} ${o.kind} ${o.name}`).sort()).toEqual([
      "kustomize.config.k8s.io/v1beta1 Kustomization ",
      "serving.kserve.io/v1alpha1 ClusterServingRuntime iris-serve",
      "serving.kserve.io/v1alpha1 ServingRuntime iris-serve",
      "serving.kserve.io/v1beta1 InferenceService iris",
      "serving.kserve.io/v1beta1 InferenceService iris-grpc",
    ]);
    // `kubectl apply -k` gives the runtime and the HTTP service; the other two files are applied on their own.
    const kustomization = find("Kustomization");
    expect(kustomization.resources).toEqual(["serving-runtime.yaml", "inference-service.yaml"]);
    const yamlFiles = manifestFiles([KSERVE]).map((f) => path.basename(f));
    expect([...kustomization.resources, "kustomization.yaml", "inference-service-grpc.yaml", "cluster-serving-runtime.yaml"].sort()).toEqual(
      yamlFiles,
    );
  });

  it("serve the artifact's format, iris-serve.model.v1, over both V2 protocols", async () => {
    const artifact = JSON.parse(await readFile(path.join(REPO, "artifacts", "model.json"), "utf8")) as { format: string };
    expect(artifact.format).toBe(ARTIFACT_FORMAT);
    const [, family, version] = /^(.+)\.model\.v(\d+)$/.exec(ARTIFACT_FORMAT)!;
    const runtime = find("ServingRuntime");
    expect(runtime.spec.supportedModelFormats).toEqual([{ name: family, version, autoSelect: true, priority: 1 }]);
    expect(runtime.spec.protocolVersions).toEqual(["v2", "grpc-v2"]);
    for (const protocol of runtime.spec.protocolVersions) expect(KSERVE_PROTOCOLS).toContain(protocol);
  });

  it("keep the ClusterServingRuntime's spec equal to the ServingRuntime's", () => {
    const runtime = find("ServingRuntime");
    const clusterRuntime = find("ClusterServingRuntime");
    expect(clusterRuntime.spec).toEqual(runtime.spec);
    expect(clusterRuntime.metadata).toEqual(runtime.metadata);
    expect(runtime.metadata.namespace).toBeUndefined();
  });

  it("run every InferenceService on the runtime, in a format and protocol it serves, in Knative mode", () => {
    const runtime = find("ServingRuntime");
    const services = all("InferenceService");
    expect(services).toHaveLength(2);
    for (const service of services) {
      const { predictor } = service.spec;
      expect(predictor.model.runtime).toBe(runtime.metadata.name);
      expect(runtime.spec.supportedModelFormats).toContainEqual(expect.objectContaining(predictor.model.modelFormat));
      expect(runtime.spec.protocolVersions).toContain(predictor.model.protocolVersion);
      // A storage URI of a scheme KServe's storage initializer reads, naming a directory (of model.json).
      expect(predictor.model.storageUri).toMatch(/^(gs|s3|pvc|https?):\/\/[^/]+\/.+[^/]$/);
      expect(predictor.model.storageUri).not.toMatch(/\.json$/);
      expect(service.metadata.annotations["serving.kserve.io/deploymentMode"]).toBe("Knative");
      expect(predictor.minReplicas).toBeGreaterThanOrEqual(2);
      expect(predictor.maxReplicas).toBeGreaterThan(predictor.minReplicas);
      expect(predictor.automountServiceAccountToken).toBe(false);
    }
    // Both serve the same model.
    expect(new Set(services.map((s) => s.spec.predictor.model.storageUri)).size).toBe(1);
  });

  it("roll the HTTP InferenceService out as a canary, on the HTTP port KServe exposes by default", () => {
    const { predictor } = find("InferenceService", "iris").spec;
    expect(predictor.canaryTrafficPercent).toBeGreaterThan(0);
    expect(predictor.canaryTrafficPercent).toBeLessThan(100);
    expect(predictor.model.protocolVersion).toBe("v2");
    // No port declared anywhere: KServe (Knative) sends traffic to 8080.
    expect(predictor.model.ports).toBeUndefined();
    expect(find("ServingRuntime").spec.containers[0].ports).toBeUndefined();
    expect(Number(serveArgs(find("ServingRuntime")).get("http-port"))).toBe(8080);
  });

  it("expose the server's gRPC port as the one h2c port of the gRPC InferenceService", () => {
    const { predictor } = find("InferenceService", "iris-grpc").spec;
    expect(predictor.model.protocolVersion).toBe("grpc-v2");
    const grpcPort = Number(serveArgs(find("ServingRuntime")).get("port"));
    expect(predictor.model.ports).toEqual([{ name: "h2c", containerPort: grpcPort, protocol: "TCP" }]);
  });

  it("start the server with flags `iris serve` accepts, on its default ports, with the model from /mnt/models", () => {
    const runtime = find("ServingRuntime");
    const args = serveArgs(runtime);
    for (const flag of args.keys()) expect(SERVE_FLAGS, `--${flag}`).toContain(flag);
    expect(args.get("model")).toBe(KSERVE_MODEL_DIR);
    // KServe fills {{.Name}}: the model is served under the InferenceService's name.
    expect(args.get("model-name")).toBe("{{.Name}}");
    expect(Number(args.get("http-port"))).toBe(SERVE_DEFAULTS.httpPort);
    expect(Number(args.get("port"))).toBe(SERVE_DEFAULTS.grpcPort);
    // Every flag passes the server's own configuration check, with {{.Name}} filled as KServe fills it.
    const keyOf = new Map(Object.entries(SETTINGS).map(([key, s]) => [s.flag, key as keyof typeof SETTINGS]));
    const flags = Object.fromEntries([...args].map(([flag, value]) => [keyOf.get(flag)!, value.replace("{{.Name}}", "iris")]));
    expect(loadConfig({ flags })).toMatchObject({
      port: SERVE_DEFAULTS.grpcPort,
      httpPort: SERVE_DEFAULTS.httpPort,
      modelPath: KSERVE_MODEL_DIR,
      modelName: "iris",
    });

    const [container] = runtime.spec.containers;
    const env = Object.fromEntries(container.env.map((e: Obj) => [e.name, e.value]));
    for (const name of Object.keys(env).filter((n) => n.startsWith("IRIS_"))) expect(SERVE_ENV).toContain(name);
    expect(loadConfig({ env }).logLevel).toBe(env.IRIS_LOG_LEVEL);

    // Readiness and metrics on the HTTP port.
    expect(container.readinessProbe.httpGet).toEqual({ path: "/v2/health/ready", port: SERVE_DEFAULTS.httpPort });
    expect(runtime.spec.annotations).toEqual({
      "prometheus.kserve.io/port": String(SERVE_DEFAULTS.httpPort),
      "prometheus.kserve.io/path": "/metrics",
    });
  });

  it("run the container non-root and as locked down as deploy/k8s, with the same image and resources", async () => {
    const deployment = parse(await readFile(path.join(REPO, "deploy", "k8s", "deployment.yaml"), "utf8")) as Obj;
    const pod = deployment.spec.template.spec;
    const [k8sContainer] = pod.containers;
    const [container] = find("ServingRuntime").spec.containers;
    expect(container.name).toBe("kserve-container");
    expect(container.image).toBe(k8sContainer.image);
    // The pod-level settings of deploy/k8s go on the container: a ServingRuntime has no pod securityContext.
    expect(container.securityContext).toEqual({
      ...k8sContainer.securityContext,
      runAsUser: pod.securityContext.runAsUser,
      seccompProfile: pod.securityContext.seccompProfile,
    });
    expect(container.securityContext.runAsNonRoot).toBe(true);
    expect(container.securityContext.runAsUser).toBeGreaterThan(0);
    expect(container.resources).toEqual(k8sContainer.resources);
    const nodeOptions = (c: Obj): unknown => c.env.find((e: Obj) => e.name === "NODE_OPTIONS")?.value;
    expect(nodeOptions(container)).toBe(nodeOptions(k8sContainer));
    expect(container.volumeMounts).toEqual(k8sContainer.volumeMounts);
    expect(find("ServingRuntime").spec.volumes).toEqual(pod.volumes);

    const k8sKustomization = parse(await readFile(path.join(REPO, "deploy", "k8s", "kustomization.yaml"), "utf8")) as Obj;
    expect(find("Kustomization").images).toEqual(k8sKustomization.images);
  });
});

describe("strictSchema", () => {
  it("closes every object the API server would prune, and only those", () => {
    const schema = {
      type: "object",
      properties: {
        spec: { type: "object", properties: { a: { type: "string" } } },
        free: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
        map: { type: "object", additionalProperties: { type: "object", properties: { b: { type: "integer" } } } },
        list: { type: "array", items: { type: "object", properties: { c: { type: "string" } } } },
        bare: { type: "object" },
        text: { type: "string" },
      },
    };
    expect(strictSchema(schema)).toEqual({
      type: "object",
      additionalProperties: false,
      properties: {
        spec: { type: "object", properties: { a: { type: "string" } }, additionalProperties: false },
        free: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
        map: {
          type: "object",
          additionalProperties: { type: "object", properties: { b: { type: "integer" } }, additionalProperties: false },
        },
        list: { type: "array", items: { type: "object", properties: { c: { type: "string" } }, additionalProperties: false } },
        bare: { type: "object", additionalProperties: false },
        text: { type: "string" },
      },
    });
    // The input is left as it was.
    expect(schema.properties.spec).toEqual({ type: "object", properties: { a: { type: "string" } } });
  });
});

describe("scripts/validate-kserve.ts catches broken manifests", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "iris-kserve-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  let copies = 0;
  /**
   * Copies deploy/kserve, applies the text replacements to NAME and validates
   * the copy (every file, so cross-file checks run). `line` is the 1-based
   * line of the last replacement's new text.
   */
  async function broken(name: string, ...edits: [from: string, to: string][]) {
    const copy = path.join(dir, String(copies++));
    await cp(KSERVE, copy, { recursive: true });
    let text = await readFile(path.join(KSERVE, name), "utf8");
    let line = 0;
    for (const [from, to] of edits) {
      expect(text).toContain(from);
      text = text.replace(from, to);
      line = text.slice(0, text.indexOf(to)).split("\n").length;
    }
    const file = path.join(copy, name);
    await writeFile(file, text);
    const { problems } = await validateKServeManifests(manifestFiles([copy]));
    return { problems, line, file, lineOf: (fragment: string) => text.slice(0, text.indexOf(fragment)).split("\n").length };
  }

  it("a misspelt field in the InferenceService, with the field it meant", async () => {
    const { problems, line, file } = await broken("inference-service.yaml", ["canaryTrafficPercent: 10", "canaryTraficPercent: 10"]);
    expect(problems).toEqual([
      {
        file,
        line,
        column: 5,
        field: "spec.predictor.canaryTraficPercent",
        message: 'unknown field "canaryTraficPercent": did you mean "canaryTrafficPercent"?',
      },
    ]);
  });

  it("a misplaced field, with where it belongs", async () => {
    const { problems, line, file } = await broken(
      "inference-service.yaml",
      ["    canaryTrafficPercent: 10\n", ""],
      ["      storageUri: ", "      canaryTrafficPercent: 10\n      storageUri: "],
    );
    expect(problems).toEqual([
      {
        file,
        line,
        column: 7,
        field: "spec.predictor.model.canaryTrafficPercent",
        message: 'unknown field "canaryTrafficPercent" here: it is a field of spec.predictor',
      },
    ]);
  });

  it("a misspelt field deep in the runtime's container, and in metadata", async () => {
    const deep = await broken("serving-runtime.yaml", ["readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true"]);
    expect(deep.problems).toEqual([
      {
        file: deep.file,
        line: deep.line,
        column: 9,
        field: "spec.containers[0].securityContext.readOnlyRootFileSystem",
        message: 'unknown field "readOnlyRootFileSystem": did you mean "readOnlyRootFilesystem"?',
      },
    ]);
    const meta = await broken("inference-service.yaml", ["  annotations:\n", "  annotation:\n"]);
    expect(meta.problems.map((p) => [p.line, p.field, p.message])).toEqual([
      [meta.line, "metadata.annotation", 'unknown field "annotation": did you mean "annotations"?'],
    ]);
  });

  it("an unknown field with no close spelling", async () => {
    const { problems } = await broken("serving-runtime.yaml", ["  protocolVersions:\n", "  replicaz: 3\n  protocolVersions:\n"]);
    expect(problems.map((p) => [p.field, p.message])).toEqual([
      ["spec.replicaz", 'unknown field "replicaz": did you mean "replicas"?'],
    ]);
    const far = await broken("serving-runtime.yaml", ["  protocolVersions:\n", "  gpus: 3\n  protocolVersions:\n"]);
    expect(far.problems.map((p) => [p.field, p.message])).toEqual([
      ["spec.gpus", 'unknown field "gpus", which the API server would silently drop'],
    ]);
  });

  it("wrong types: a string for an integer, a boolean for an int-or-string port, an int32 out of range", async () => {
    const integer = await broken("inference-service.yaml", ["minReplicas: 2", 'minReplicas: "2"']);
    expect(integer.problems.map((p) => [p.line, p.field, p.message])).toEqual([
      [integer.line, "spec.predictor.minReplicas", "must be integer"],
    ]);
    const intOrString = await broken("serving-runtime.yaml", ["          port: 8080", "          port: true"]);
    expect(intOrString.problems.map((p) => [p.line, p.field, p.message])).toEqual([
      [intOrString.line, "spec.containers[0].readinessProbe.httpGet.port", "must be an integer or a string"],
    ]);
    const int32 = await broken("inference-service-grpc.yaml", ["containerPort: 50051", "containerPort: 5000000000"]);
    expect(int32.problems.map((p) => [p.line, p.field, p.message])).toEqual([
      [int32.line, "spec.predictor.model.ports[0].containerPort", 'must match format "int32"'],
    ]);
  });

  it("an unknown protocol version, in the runtime and in the InferenceService", async () => {
    const runtime = await broken("serving-runtime.yaml", ["    - grpc-v2", "    - grpc-v3"]);
    // The gRPC InferenceService asks for grpc-v2, which the runtime then lacks.
    const grpcService = (await readFile(path.join(KSERVE, "inference-service-grpc.yaml"), "utf8")).split("\n");
    expect(runtime.problems.map((p) => [path.basename(p.file), p.line, p.field, p.message])).toEqual([
      [
        "inference-service-grpc.yaml",
        grpcService.indexOf("      protocolVersion: grpc-v2") + 1,
        "spec.predictor.model.protocolVersion",
        'ServingRuntime "iris-serve" (serving-runtime.yaml) does not serve protocol grpc-v2 (it serves v2, grpc-v3)',
      ],
      ["serving-runtime.yaml", runtime.line, "spec.protocolVersions[1]", 'unknown protocol version "grpc-v3" (KServe knows v1, v2, grpc-v1, grpc-v2)'],
    ]);
    const service = await broken("inference-service.yaml", ["protocolVersion: v2", "protocolVersion: V2"]);
    expect(service.problems.map((p) => [p.line, p.field, p.message])).toEqual([
      [service.line, "spec.predictor.model.protocolVersion", 'unknown protocol version "V2" (KServe knows v1, v2, grpc-v1, grpc-v2)'],
    ]);
  });

  it("a ServingRuntime without supportedModelFormats, and the InferenceService that then has no runtime", async () => {
    const { problems, file } = await broken("serving-runtime.yaml", [
      '  supportedModelFormats:\n    - name: iris-serve\n      version: "1"\n      autoSelect: true\n      priority: 1\n',
      "",
    ]);
    const specLine = (await readFile(file, "utf8")).split("\n").indexOf("spec:") + 1;
    expect(problems.filter((p) => p.file === file)).toEqual([
      {
        file,
        line: specLine,
        column: 1,
        field: "spec",
        message: "a ServingRuntime must list supportedModelFormats: KServe runs it only for InferenceServices whose model format it names",
      },
    ]);
    const services = problems.filter((p) => p.file !== file).map((p) => [path.basename(p.file), p.field, p.message]);
    expect(services).toEqual(
      ["inference-service-grpc.yaml", "inference-service.yaml"].map((name) => [
        name,
        "spec.predictor.model.modelFormat",
        'ServingRuntime "iris-serve" (serving-runtime.yaml) does not support model format iris-serve version 1 (it supports none)',
      ]),
    );
  });

  it("an InferenceService asking for a format version or protocol the runtime does not serve", async () => {
    const version = await broken("inference-service.yaml", ['version: "1"', 'version: "2"']);
    expect(version.problems.map((p) => [p.line, p.field, p.message])).toEqual([
      [
        version.lineOf("modelFormat:"),
        "spec.predictor.model.modelFormat",
        'ServingRuntime "iris-serve" (serving-runtime.yaml) does not support model format iris-serve version 2 (it supports iris-serve version 1)',
      ],
    ]);
    const protocol = await broken("inference-service.yaml", ["protocolVersion: v2", "protocolVersion: v1"]);
    expect(protocol.problems.map((p) => [p.line, p.field, p.message])).toEqual([
      [
        protocol.line,
        "spec.predictor.model.protocolVersion",
        'ServingRuntime "iris-serve" (serving-runtime.yaml) does not serve protocol v1 (it serves v2, grpc-v2)',
      ],
    ]);
  });

  it("a runtime placeholder KServe cannot fill, and a repeated environment variable", async () => {
    const placeholder = await broken("serving-runtime.yaml", ["--model-name={{.Name}}", "--model-name={{.name}}"]);
    expect(placeholder.problems.map((p) => [p.line, p.field, p.message])).toEqual([
      [
        placeholder.line,
        "spec.containers[0].args[2]",
        '"{{.name}}" is not a placeholder KServe can fill: it fills {{.Name}}, {{.Namespace}}, {{.Labels.KEY}} and {{.Annotations.KEY}} from the InferenceService\'s metadata',
      ],
    ]);
    const env = await broken("serving-runtime.yaml", ["        - name: NODE_OPTIONS", "        - name: IRIS_LOG_LEVEL\n          value: debug\n        - name: NODE_OPTIONS"]);
    expect(env.problems.map((p) => [p.field, p.message])).toEqual([["spec.containers[0].env[1]", "repeats the same name as entry 0"]]);
  });

  it("a kind its apiVersion does not have, and a name KServe refuses", async () => {
    const kind = await broken("inference-service-grpc.yaml", ["apiVersion: serving.kserve.io/v1beta1", "apiVersion: serving.kserve.io/v1alpha1"]);
    expect(kind.problems.map((p) => [p.field, p.message])).toEqual([
      ["kind", "KServe has no kind InferenceService in serving.kserve.io/v1alpha1 (it has serving.kserve.io/v1beta1 InferenceService)"],
    ]);
    const name = await broken("inference-service.yaml", ["  name: iris\n", "  name: 2-iris\n"]);
    expect(name.problems.map((p) => [p.line, p.field, p.message])).toEqual([
      [name.line, "metadata.name", "KServe wants an InferenceService name of lower-case letters, digits and '-', starting with a letter"],
    ]);
  });

  it("invalid YAML and a kustomization naming a missing file", async () => {
    const yaml = await broken("inference-service.yaml", ["  predictor:\n", "  predictor:\n   bad: indent\n"]);
    expect(yaml.problems[0]!.message).toMatch(/^YAML: /);
    const kustomization = await broken("kustomization.yaml", ["  - inference-service.yaml", "  - inference-services.yaml"]);
    expect(kustomization.problems.map((p) => p.message)).toEqual(['resource "inference-services.yaml" does not exist']);
  });
});

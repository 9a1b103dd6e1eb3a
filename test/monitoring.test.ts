/**
 * deploy/monitoring, checked offline (scripts/validate-monitoring.ts): the
 * PodMonitor and PrometheusRule against prometheus-operator's CRD schemas
 * and types, the dashboard against Grafana's types, and every alert and
 * panel expression parsed as PromQL, naming only metrics and labels that a
 * real server's /metrics has (scraped here, after a call on each port).
 * Then typos of each kind, made in a copy, must each be reported.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { exportedMetrics, validateMonitoring, type ExportedMetrics } from "../scripts/validate-monitoring.js";
import { DEFAULTS } from "../src/config.js";
import { SETOSA } from "./support/flowers.js";
import { scrape } from "./support/metrics.js";
import { call, generatedClient, startTestServer } from "./support/service-fixtures.js";
import { useServers } from "./support/use-servers.js";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const DIR = join(REPO, "deploy", "monitoring");
const servers = useServers();

let exported: ExportedMetrics;
let fromRegistry: ExportedMetrics;

beforeAll(async () => {
  const t = await startTestServer({ httpPort: 0 });
  try {
    const base = `http://127.0.0.1:${t.server.httpPort}`;
    const client = generatedClient(t.address);
    expect((await call(client, client.predict, { flower: SETOSA })).ok).toBe(true);
    client.close();
    // The first scrape makes the HTTP series exist; the next show them.
    await scrape(base);
    // A series can appear between a scrape and a look at the registry (the
    // process's GC histogram, at its first garbage collection): the two are
    // compared from a scrape that the registry's series were the same before
    // and after.
    const names = (m: ExportedMetrics) => JSON.stringify([...m.keys()].sort());
    for (let attempt = 0; attempt < 5; attempt++) {
      const before = exportedMetrics(await t.server.metrics!.families());
      const s = await scrape(base);
      fromRegistry = exportedMetrics(await t.server.metrics!.families());
      const map = new Map<string, Set<string>>();
      for (const sample of s.samples) {
        const labels = map.get(sample.name) ?? new Set<string>();
        for (const label of Object.keys(sample.labels)) labels.add(label);
        map.set(sample.name, labels);
      }
      exported = map;
      if (names(before) === names(fromRegistry)) break;
    }
  } finally {
    await t.server.forceShutdown();
  }
});

/** A copy of deploy/monitoring with `edit` applied to one file. */
async function edited(file: string, edit: (text: string) => string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "iris-monitoring-"));
  servers.defer(() => rm(dir, { recursive: true, force: true }));
  await cp(DIR, dir, { recursive: true });
  const before = await readFile(join(dir, file), "utf8");
  const after = edit(before);
  expect(after, "the edit changed nothing").not.toBe(before);
  await writeFile(join(dir, file), after);
  return dir;
}

describe("deploy/monitoring", () => {
  it("is valid: manifests, dashboard, and every expression against the metrics a real server exports", async () => {
    const { problems, expressions, objects } = await validateMonitoring(DIR, exported);
    expect(problems).toEqual([]);
    expect(objects.map((o) => o.kind).sort()).toEqual(["Kustomization", "PodMonitor", "PrometheusRule"]);
    // The alerts the operations issue asks for, and more.
    const alerts = expressions.filter((e) => e.file.endsWith("prometheus-rule.yaml")).map((e) => /\((\w+)\)$/.exec(e.where)![1]);
    expect(alerts).toEqual([
      "IrisServeGrpcErrorRatioHigh",
      "IrisServeHttpErrorRatioHigh",
      "IrisServeModelReloadFailed",
      "IrisServeInputOutOfRange",
      "IrisServeNoModelServed",
      "IrisServeModelVersionsDiverge",
    ]);
    // The dashboard shows every metric family of the server.
    const shown = new Set(expressions.filter((e) => e.file.endsWith(".json")).flatMap((e) => e.metrics));
    const families = [
      "grpc_server_handled_total",
      "grpc_server_handling_seconds_bucket",
      "http_server_request_duration_seconds_count",
      "http_server_request_duration_seconds_bucket",
      "iris_model_info",
      "iris_model_loaded_timestamp_seconds",
      "iris_predictions_total",
      "iris_batch_rows_bucket",
      "iris_input_out_of_range_total",
      "iris_model_reloads_total",
    ];
    for (const name of families) expect(shown, name).toContain(name);
  });

  it("is checked against the same metrics from the server's registry as from its scraped /metrics", () => {
    expect([...fromRegistry.keys()].sort()).toEqual([...exported.keys()].sort());
    for (const [name, labels] of exported) expect([...fromRegistry.get(name)!].sort(), name).toEqual([...labels].sort());
  });

  it("scrapes the pods of deploy/k8s on their HTTP port, at /metrics", async () => {
    const podMonitor = parse(await readFile(join(DIR, "pod-monitor.yaml"), "utf8")) as {
      spec: { selector: { matchLabels: Record<string, string> }; podMetricsEndpoints: { port: string; path: string }[] };
    };
    const deployment = parse(await readFile(join(REPO, "deploy", "k8s", "deployment.yaml"), "utf8")) as {
      spec: { template: { metadata: { labels: Record<string, string> }; spec: { containers: { ports: { name: string; containerPort: number }[] }[] } } };
    };
    expect(deployment.spec.template.metadata.labels).toMatchObject(podMonitor.spec.selector.matchLabels);
    const [endpoint] = podMonitor.spec.podMetricsEndpoints;
    expect(endpoint!.path).toBe("/metrics");
    const port = deployment.spec.template.spec.containers[0]!.ports.find((p) => p.name === endpoint!.port);
    expect(port?.containerPort).toBe(DEFAULTS.httpPort);
  });

  it.each([
    ["a misspelt metric in an alert", "prometheus-rule.yaml", (t: string) => t.replace("rate(iris_predictions_total[30m])", "rate(iris_prediction_total[30m])"), /names iris_prediction_total, which the server does not export/],
    ["a misspelt label in an alert", "prometheus-rule.yaml", (t: string) => t.replace('{result="failure"}', '{reslt="failure"}'), /selects iris_model_reloads_total by label reslt/],
    ["an alert that does not parse", "prometheus-rule.yaml", (t: string) => t.replace("absent(iris_model_info)", "absent(iris_model_info"), /does not parse as PromQL/],
    ["an alert without a severity", "prometheus-rule.yaml", (t: string) => t.replace("severity: warning", "severity: page"), /severity must be one of warning, critical/],
    ["a misspelt field of the PodMonitor", "pod-monitor.yaml", (t: string) => t.replace("podMetricsEndpoints:", "podMetricEndpoints:"), /unknown field "podMetricEndpoints"/],
    ["a bad scrape interval", "pod-monitor.yaml", (t: string) => t.replace("interval: 15s", "interval: 15 seconds"), /must match pattern/],
    ["a misspelt field of the rule", "prometheus-rule.yaml", (t: string) => t.replace("      rules:", "      rule:"), /unknown field "rule"/],
    ["a grouping label no metric has", "grafana-dashboard.json", (t: string) => t.replace("sum by (species)", "sum by (specie)"), /groups by label specie/],
    ["a misspelt metric in a panel", "grafana-dashboard.json", (t: string) => t.replace("rate(process_cpu_seconds_total", "rate(process_cpu_seconds"), /names process_cpu_seconds, which the server does not export/],
    ["a misspelt dashboard field", "grafana-dashboard.json", (t: string) => t.replace('"gridPos"', '"gridPosition"'), /"gridPosition"' does not exist in type 'Panel/],
    ["a misspelt query field", "grafana-dashboard.json", (t: string) => t.replace('"legendFormat"', '"legendFormt"'), /"legendFormt" is not a field of a Prometheus query/],
    ["an undefined variable", "grafana-dashboard.json", (t: string) => t.replace('namespace=~\\"$namespace\\"', 'namespace=~\\"$ns\\"'), /uses \$ns, which is not a variable/],
    ["a generated file that is missing", "kustomization.yaml", (t: string) => t.replace("- grafana-dashboard.json", "- dashboard.json"), /file "dashboard.json" does not exist/],
  ])("reports %s", async (_label, file, edit, expected) => {
    const dir = await edited(file, edit);
    const { problems } = await validateMonitoring(dir, exported);
    expect(problems.map((p) => `${p.where}: ${p.message}`).join("\n")).toMatch(expected);
  });
});

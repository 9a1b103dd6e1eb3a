/**
 * Validates the monitoring files (deploy/monitoring) offline, so that a
 * typo fails a test instead of an alert that never fires or a panel that
 * stays empty.
 *
 *   node --import tsx scripts/validate-monitoring.ts [DIR]     (default: deploy/monitoring)
 *
 * - The PodMonitor and the PrometheusRule: prometheus-operator's CRD
 *   schemas and types, through scripts/validate-k8s.ts; every rule is an
 *   alert with a severity (warning or critical), a summary and a
 *   description. The kustomization's generated files must exist.
 * - grafana-dashboard.json: type-checked as a literal of Grafana's own
 *   Dashboard type (@grafana/schema), so an unknown or misspelt field is an
 *   error (TypeScript reports the first of each object); queries hold only
 *   the fields of a Prometheus query; unique panel ids; panels within the
 *   24-column grid; every query on the `datasource` variable; every
 *   variable used is defined.
 * - Every alert and panel expression is parsed with Prometheus's own PromQL
 *   grammar (@prometheus-io/lezer-promql; Grafana's $__rate_interval and
 *   friends are replaced by a duration first), and may name only metrics
 *   the server exports, and only labels those metrics have or Prometheus
 *   adds to a scraped target (namespace, pod, job, ...).
 *
 * What the server exports is given by the caller: the test scrapes a real
 * server; the command line starts one in this process with the committed
 * model and reads its metrics registry.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parser } from "@prometheus-io/lezer-promql";
import ts from "typescript";
import { manifestFiles, validateManifests, type ManifestProblem } from "./validate-k8s.js";

/** Every sample name the server exports (`grpc_server_handled_total`, `..._bucket`), with its label names. */
export type ExportedMetrics = ReadonlyMap<string, ReadonlySet<string>>;

/** Labels Prometheus adds to what it scrapes from a PodMonitor's target. */
const TARGET_LABELS: ReadonlySet<string> = new Set(["namespace", "pod", "job", "instance", "container", "endpoint"]);
/** Grafana's interval variables, replaced by a duration before parsing. */
const GRAFANA_INTERVALS = /\$\{?__(?:rate_interval|interval|range)(?:_ms|_s)?\}?/g;
const SEVERITIES = new Set(["warning", "critical"]);
/** The fields of a query of Grafana's Prometheus data source. */
const QUERY_FIELDS = new Set(["refId", "datasource", "expr", "legendFormat", "instant", "range", "format", "interval", "intervalFactor", "exemplar", "hide", "editorMode", "step"]);

export interface MonitoringProblem {
  file: string;
  /** Where in the file: a line (YAML), or a JSON path (the dashboard). */
  where: string;
  message: string;
}

/** One PromQL expression found in the files. */
export interface Expression {
  file: string;
  where: string;
  expr: string;
  /** The metrics it names. */
  metrics: string[];
}

type Obj = Record<string, unknown>;
const asObject = (v: unknown): Obj | undefined => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : undefined);
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * Parses `expr` as PromQL and checks its metrics and labels against what
 * the server exports; returns the problems and the metrics it names.
 */
export function checkPromQL(expr: string, exported: ExportedMetrics): { problems: string[]; metrics: string[] } {
  const text = expr.replace(GRAFANA_INTERVALS, "5m");
  const tree = parser.parse(text);
  const problems: string[] = [];
  const metrics: string[] = [];
  const selectors: { metric: string; labels: string[] }[] = [];
  const grouping: string[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) {
        if (problems.length === 0) problems.push(`does not parse as PromQL at column ${node.from + 1}: ${JSON.stringify(text.slice(node.from, node.from + 20) || "(end)")}`);
        return false;
      }
      if (node.name === "VectorSelector") {
        const identifier = node.node.getChild("Identifier");
        const matchers = node.node.getChild("LabelMatchers");
        const labels = (matchers?.getChildren("UnquotedLabelMatcher") ?? []).map((m) => {
          const name = m.getChild("LabelName");
          return name ? text.slice(name.from, name.to) : "";
        });
        const metric = identifier ? text.slice(identifier.from, identifier.to) : undefined;
        if (metric === undefined) problems.push("selects series without naming a metric");
        else {
          metrics.push(metric);
          selectors.push({ metric, labels });
        }
        return false;
      }
      if (node.name === "GroupingLabels") {
        for (const name of node.node.getChildren("LabelName")) grouping.push(text.slice(name.from, name.to));
        return false;
      }
      return undefined;
    },
  });
  if (problems.length > 0) return { problems, metrics };
  for (const { metric, labels } of selectors) {
    const known = exported.get(metric);
    if (known === undefined) {
      problems.push(`names ${metric}, which the server does not export`);
      continue;
    }
    for (const label of labels) {
      if (!known.has(label) && !TARGET_LABELS.has(label)) problems.push(`selects ${metric} by label ${label}, which it does not have`);
    }
  }
  const labelsHere = new Set([...selectors.flatMap(({ metric }) => [...(exported.get(metric) ?? [])]), ...TARGET_LABELS]);
  for (const label of grouping) {
    if (!labelsHere.has(label)) problems.push(`groups by label ${label}, which none of its metrics has`);
  }
  return { problems, metrics };
}

/** The line of the first occurrence of `needle` in `text` (1-based), for messages. */
function lineOf(text: string, needle: string): string {
  const at = text.indexOf(needle.split("\n")[0]!.trim());
  return at < 0 ? "?" : String(text.slice(0, at).split("\n").length);
}

function checkRules(file: string, object: Obj, exported: ExportedMetrics, problems: MonitoringProblem[], expressions: Expression[]): void {
  const text = readFileSync(file, "utf8");
  asArray(asObject(object.spec)?.groups).forEach((group, g) => {
    asArray(asObject(group)?.rules).forEach((rule, r) => {
      const where = `spec.groups[${g}].rules[${r}]`;
      const o = asObject(rule) ?? {};
      const name = typeof o.alert === "string" ? o.alert : undefined;
      if (name === undefined) {
        problems.push({ file, where, message: "every rule here is an alert: `alert` is missing" });
        return;
      }
      const labels = asObject(o.labels) ?? {};
      if (!SEVERITIES.has(String(labels.severity))) {
        problems.push({ file, where: `${where}.labels.severity`, message: `${name}: severity must be one of ${[...SEVERITIES].join(", ")}, got ${JSON.stringify(labels.severity)}` });
      }
      const annotations = asObject(o.annotations) ?? {};
      for (const key of ["summary", "description"]) {
        if (typeof annotations[key] !== "string" || annotations[key] === "") {
          problems.push({ file, where: `${where}.annotations.${key}`, message: `${name}: an alert needs a ${key}` });
        }
      }
      const expr = typeof o.expr === "string" ? o.expr : String(o.expr ?? "");
      const checked = checkPromQL(expr, exported);
      const line = `line ${lineOf(text, expr)}`;
      for (const message of checked.problems) problems.push({ file, where: `${line}, ${where}.expr`, message: `${name}: ${message}` });
      expressions.push({ file, where: `${where} (${name})`, expr, metrics: checked.metrics });
    });
  });
}

/** Type-checks the dashboard as a literal of @grafana/schema's Dashboard. */
function dashboardTypeProblems(file: string, dashboard: unknown): MonitoringProblem[] {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const fileName = path.join(root, "deploy", "__dashboard__.ts");
  const source = `import type { Dashboard } from "@grafana/schema";\nexport const dashboard: Dashboard = ${JSON.stringify(dashboard, null, 1)};\n`;
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const sourceFile = ts.createSourceFile(fileName, source, ts.ScriptTarget.ES2022, true);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, ...rest) => (path.resolve(name) === fileName ? sourceFile : getSourceFile(name, ...rest));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => path.resolve(name) === fileName || fileExists(name);
  const program = ts.createProgram([fileName], options, host);
  return [...program.getSyntacticDiagnostics(sourceFile), ...program.getSemanticDiagnostics(sourceFile)].map((d) => {
    // The JSON path of the node the diagnostic points at.
    const keys: string[] = [];
    let node: ts.Node | undefined = findNode(sourceFile, d.start ?? 0);
    while (node && !ts.isVariableDeclaration(node)) {
      const parent: ts.Node | undefined = node.parent;
      if (ts.isPropertyAssignment(node)) keys.unshift(`.${(node.name as ts.StringLiteral).text}`);
      else if (parent && ts.isArrayLiteralExpression(parent)) keys.unshift(`[${parent.elements.indexOf(node as ts.Expression)}]`);
      node = parent;
    }
    return { file, where: keys.join("").replace(/^\./, "") || "(root)", message: ts.flattenDiagnosticMessageText(d.messageText, " ") };
  });
}

function findNode(sourceFile: ts.SourceFile, position: number): ts.Node | undefined {
  let found: ts.Node | undefined;
  const visit = (node: ts.Node): void => {
    if (position >= node.getStart(sourceFile) && position < node.getEnd()) {
      found = node;
      ts.forEachChild(node, visit);
    }
  };
  visit(sourceFile);
  return found;
}

function checkDashboard(file: string, exported: ExportedMetrics, problems: MonitoringProblem[], expressions: Expression[]): void {
  let dashboard: Obj;
  try {
    dashboard = JSON.parse(readFileSync(file, "utf8")) as Obj;
  } catch (err) {
    problems.push({ file, where: "(root)", message: `not valid JSON: ${(err as Error).message}` });
    return;
  }
  problems.push(...dashboardTypeProblems(file, dashboard));
  for (const key of ["uid", "title"]) if (typeof dashboard[key] !== "string") problems.push({ file, where: key, message: `the dashboard needs a ${key}` });

  const variables = asArray(asObject(dashboard.templating)?.list).map((v) => asObject(v) ?? {});
  const defined = new Set(variables.map((v) => String(v.name)));
  const datasource = variables.find((v) => v.name === "datasource");
  if (datasource?.type !== "datasource" || datasource.query !== "prometheus") {
    problems.push({ file, where: "templating.list", message: 'needs a variable "datasource" of type datasource for Prometheus' });
  }
  const checkVariables = (where: string, value: string): void => {
    for (const [, name] of value.replace(GRAFANA_INTERVALS, "").matchAll(/\$\{?(\w+)/g)) {
      if (!defined.has(name!)) problems.push({ file, where, message: `uses $${name}, which is not a variable of the dashboard` });
    }
  };
  variables.forEach((v, i) => {
    const query = asObject(v.query)?.query;
    if (v.type !== "query" || typeof query !== "string") return;
    // Grafana's label_values(metric, label).
    const match = /^label_values\((\w+),\s*(\w+)\)$/.exec(query);
    const labels = match ? exported.get(match[1]!) : undefined;
    if (!match || labels === undefined || !(labels.has(match[2]!) || TARGET_LABELS.has(match[2]!))) {
      problems.push({ file, where: `templating.list[${i}].query`, message: `${query} is not label_values() of a metric and label the server exports` });
    }
  });

  const ids = new Set<number>();
  const visit = (panels: unknown[], prefix: string): void => {
    panels.forEach((p, i) => {
      const panel = asObject(p) ?? {};
      const where = `${prefix}[${i}]`;
      const title = `panel ${JSON.stringify(panel.title)}`;
      if (typeof panel.id !== "number" || ids.has(panel.id)) problems.push({ file, where: `${where}.id`, message: `${title}: ids must be unique numbers` });
      else ids.add(panel.id);
      const grid = asObject(panel.gridPos);
      if (!grid || Number(grid.x) + Number(grid.w) > 24) problems.push({ file, where: `${where}.gridPos`, message: `${title}: must fit the 24-column grid` });
      if (panel.type === "row") {
        visit(asArray(panel.panels), `${where}.panels`);
        return;
      }
      if (asObject(panel.datasource)?.uid !== "${datasource}") {
        problems.push({ file, where: `${where}.datasource`, message: `${title}: must use the \${datasource} variable` });
      }
      const targets = asArray(panel.targets);
      if (targets.length === 0) problems.push({ file, where: `${where}.targets`, message: `${title}: has no query` });
      targets.forEach((t, j) => {
        const target = asObject(t) ?? {};
        const tw = `${where}.targets[${j}]`;
        for (const key of Object.keys(target)) {
          if (!QUERY_FIELDS.has(key)) problems.push({ file, where: `${tw}.${key}`, message: `${title}: "${key}" is not a field of a Prometheus query` });
        }
        if (asObject(target.datasource)?.uid !== "${datasource}") {
          problems.push({ file, where: `${tw}.datasource`, message: `${title}: every query must use the \${datasource} variable` });
        }
        const expr = String(target.expr ?? "");
        checkVariables(`${tw}.expr`, expr);
        const checked = checkPromQL(expr, exported);
        for (const message of checked.problems) problems.push({ file, where: `${tw}.expr`, message: `${title}: ${message}` });
        expressions.push({ file, where: `${tw} (${String(panel.title)})`, expr, metrics: checked.metrics });
      });
    });
  };
  visit(asArray(dashboard.panels), "panels");
}

export interface MonitoringReport {
  problems: MonitoringProblem[];
  expressions: Expression[];
  /** The manifests read (PodMonitor, PrometheusRule, Kustomization). */
  objects: { file: string; kind: string; name: string; object: Obj }[];
}

export async function validateMonitoring(dir: string, exported: ExportedMetrics): Promise<MonitoringReport> {
  const problems: MonitoringProblem[] = [];
  const expressions: Expression[] = [];
  const report = await validateManifests(manifestFiles([dir]));
  problems.push(...report.problems.map((p: ManifestProblem) => ({ file: p.file, where: `line ${p.line}:${p.column}${p.field ? `, ${p.field}` : ""}`, message: p.message })));
  for (const o of report.objects) {
    if (o.kind === "PrometheusRule") checkRules(o.file, o.object, exported, problems, expressions);
    if (o.kind === "Kustomization") {
      for (const generator of asArray(o.object.configMapGenerator)) {
        for (const f of asArray(asObject(generator)?.files)) {
          const name = String(f).split("=").at(-1)!;
          if (!existsSync(path.resolve(path.dirname(o.file), name))) problems.push({ file: o.file, where: "configMapGenerator", message: `file "${name}" does not exist` });
        }
      }
    }
  }
  for (const name of readdirSync(dir).filter((n) => n.endsWith(".json")).sort()) checkDashboard(path.join(dir, name), exported, problems, expressions);
  return { problems, expressions, objects: report.objects };
}

/** What a server exports, from its metrics registry (prom-client's JSON form): the names of its samples, with their label names. */
export function exportedMetrics(families: readonly { name: string; type: unknown; values: { metricName?: string; labels: object }[] }[]): ExportedMetrics {
  const exported = new Map<string, Set<string>>();
  const add = (name: string, labels: Iterable<string>): void => {
    const set = exported.get(name) ?? new Set<string>();
    for (const label of labels) set.add(label);
    exported.set(name, set);
  };
  // A family without samples is not in the exposition either.
  for (const family of families) {
    for (const value of family.values) add(value.metricName ?? family.name, Object.keys(value.labels));
  }
  return exported;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2] ?? path.join("deploy", "monitoring");
  const { startIrisServer } = await import("../src/server/server.js");
  const { ModelHolder } = await import("../src/server/model-holder.js");
  const { loadModelFile } = await import("../src/model/index.js");
  const { createLogger } = await import("../src/logger.js");
  // A server with the committed model; one call on each port makes every labelled series exist.
  const server = await startIrisServer({
    host: "127.0.0.1",
    port: 0,
    httpPort: 0,
    holder: new ModelHolder(await loadModelFile("artifacts/model.json")),
    logger: createLogger({ level: "silent" }),
    maxBatchRows: 10,
    maxReceiveBytes: 1 << 20,
  });
  try {
    await fetch(`http://127.0.0.1:${server.httpPort}/predict`, { method: "POST", body: '{"features":[5.1,3.5,1.4,0.2]}' });
    const { problems, expressions } = await validateMonitoring(dir, exportedMetrics(await server.metrics!.families()));
    for (const p of problems) process.stderr.write(`${p.file}: ${p.where}: ${p.message}\n`);
    process.stdout.write(`${problems.length === 0 ? "valid" : `${problems.length} problem(s)`}: ${expressions.length} PromQL expressions in ${dir}\n`);
    process.exitCode = problems.length === 0 ? 0 : 1;
  } finally {
    await server.forceShutdown();
  }
}

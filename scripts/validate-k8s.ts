/**
 * Validates Kubernetes manifests offline against the Kubernetes API schemas.
 *
 *   node --import tsx scripts/validate-k8s.ts [FILE|DIR ...]     (default: deploy/k8s)
 *
 * Two checks per object, both generated from the Kubernetes OpenAPI spec and
 * shipped in the kubernetes-models package (no cluster, no network; the
 * kinds of prometheus-operator, monitoring.coreos.com, from its CRDs in
 * @kubernetes-models/prometheus-operator):
 *  - its JSON schema validator: types, required fields, enums, formats
 *    (int32, quantities, ...), as the API server's schema validation does;
 *  - its TypeScript types, with the object as a literal: every field must be
 *    one the API knows, like `kubectl apply --validate=strict` (the schemas
 *    above accept unknown fields, the types do not).
 * A kustomization.yaml is checked for known keys and that its resources exist.
 * Each problem is reported as file:line:column with the field's path.
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { LineCounter, parseAllDocuments, type Document } from "yaml";
import { fieldPath, fieldPosition, type PathKey } from "./yaml-location.js";

export interface ManifestProblem {
  file: string;
  line: number;
  column: number;
  /** Dotted path of the field, e.g. spec.template.spec.containers[0].image. */
  field: string;
  message: string;
}

export interface ManifestObject {
  file: string;
  apiVersion: string;
  kind: string;
  name: string;
  object: Record<string, unknown>;
}

export interface ValidationReport {
  objects: ManifestObject[];
  problems: ManifestProblem[];
}

export interface ParsedDoc extends ManifestObject {
  doc: Document;
  lines: LineCounter;
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const KUSTOMIZATION_KEYS = new Set([
  "apiVersion", "kind", "metadata", "resources", "components", "namespace", "namePrefix", "nameSuffix",
  "labels", "commonLabels", "commonAnnotations", "images", "replicas", "patches", "configMapGenerator",
  "secretGenerator", "generatorOptions", "helmCharts", "transformers", "generators", "validators", "buildMetadata",
  "openapi", "crds", "vars", "replacements", "sortOptions",
]);

export function problemAt(parsed: ParsedDoc, keys: readonly PathKey[], message: string): ManifestProblem {
  const position = fieldPosition(parsed.doc.contents, keys, parsed.lines, parsed.doc.contents?.range?.[0] ?? 0);
  return { file: parsed.file, ...position, field: fieldPath(keys), message };
}

/** Reads every YAML document; syntax errors become problems. */
export function parseFiles(files: string[], problems: ManifestProblem[]): ParsedDoc[] {
  const parsed: ParsedDoc[] = [];
  for (const file of files) {
    const lines = new LineCounter();
    const docs = parseAllDocuments(readFileSync(file, "utf8"), { lineCounter: lines, prettyErrors: false });
    for (const doc of Array.isArray(docs) ? docs : []) {
      const errors = doc.errors;
      if (errors.length > 0) {
        for (const error of errors) {
          const { line, col } = lines.linePos(error.pos[0]);
          problems.push({ file, line, column: col, field: "", message: `YAML: ${error.message.split("\n")[0]}` });
        }
        continue;
      }
      const object = doc.toJS() as unknown;
      if (object === null || object === undefined) continue;
      const entry = { file, doc, lines, apiVersion: "", kind: "", name: "", object: {} as Record<string, unknown> };
      if (typeof object !== "object" || Array.isArray(object)) {
        problems.push(problemAt(entry, [], "a manifest must be a mapping"));
        continue;
      }
      const record = object as Record<string, unknown>;
      const meta = record.metadata as { name?: unknown } | undefined;
      parsed.push({
        ...entry,
        object: record,
        apiVersion: typeof record.apiVersion === "string" ? record.apiVersion : "",
        kind: typeof record.kind === "string" ? record.kind : "",
        name: typeof meta?.name === "string" ? meta.name : "",
      });
    }
  }
  return parsed;
}

export function checkKustomization(parsed: ParsedDoc, problems: ManifestProblem[]): void {
  for (const key of Object.keys(parsed.object)) {
    if (!KUSTOMIZATION_KEYS.has(key)) problems.push(problemAt(parsed, [key], `unknown field "${key}" in Kustomization`));
  }
  const resources = parsed.object.resources;
  if (resources !== undefined && !Array.isArray(resources)) {
    problems.push(problemAt(parsed, ["resources"], "must be a list of files or folders"));
    return;
  }
  (resources ?? []).forEach((resource: unknown, i: number) => {
    if (typeof resource !== "string" || /^[a-z]+:\/\//.test(resource)) return;
    if (!existsSync(path.resolve(path.dirname(parsed.file), resource))) {
      problems.push(problemAt(parsed, ["resources", i], `resource "${resource}" does not exist`));
    }
  });
}

type ModelClass = new (data: unknown) => { validate(): void };

/** The package of the models of an apiVersion: Kubernetes', or prometheus-operator's. */
function modelsPackage(apiVersion: string): string {
  return apiVersion.startsWith("monitoring.coreos.com/") ? "@kubernetes-models/prometheus-operator" : "kubernetes-models";
}

/** The kubernetes-models class for apiVersion + kind, or undefined when the API has no such kind. */
async function modelClass(apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  if (!/^([a-z0-9.-]+\/)?v\d+((alpha|beta)\d+)?$/.test(apiVersion) || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) {
    return undefined;
  }
  try {
    const mod = (await import(`${modelsPackage(apiVersion)}/${apiVersion}`)) as Record<string, unknown>;
    return typeof mod[kind] === "function" ? (mod[kind] as ModelClass) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs the generated JSON schema validator of the object's kind. */
function schemaProblems(parsed: ParsedDoc, Model: ModelClass): ManifestProblem[] {
  try {
    new Model(parsed.object).validate();
    return [];
  } catch (err) {
    const errors = (err as { errors?: { instancePath: string; message?: string; params?: Record<string, unknown> }[] })
      .errors;
    if (!errors) return [problemAt(parsed, [], (err as Error).message)];
    return errors.map((error) => {
      const keys = error.instancePath
        .split("/")
        .slice(1)
        .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"))
        .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
      const allowed = Array.isArray(error.params?.allowedValues) ? ` (${error.params.allowedValues.join(", ")})` : "";
      return problemAt(parsed, keys, `${error.message ?? "is invalid"}${allowed}`);
    });
  }
}

const TYPE_PREFIX = /I(?:IoK8s|ComGithubPrometheusOperator)\w*?V\d+(?:alpha\d+|beta\d+)?(?=[A-Z])/g;

/**
 * Type-checks every object as a literal of its kind's interface, so an
 * unknown (e.g. misspelt) field anywhere is an error.
 */
function typeProblems(docs: ParsedDoc[]): ManifestProblem[] {
  if (docs.length === 0) return [];
  const fileName = path.join(ROOT, "deploy", "__manifests__.ts");
  const source = docs
    .map(
      (d, i) =>
        `import type { I${d.kind} as T${i} } from "${modelsPackage(d.apiVersion)}/${d.apiVersion}/${d.kind}";\n` +
        `export const d${i}: T${i} = ${JSON.stringify(d.object, null, 1)};\n`,
    )
    .join("");
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
  const diagnostics = [...program.getSyntacticDiagnostics(sourceFile), ...program.getSemanticDiagnostics(sourceFile)];

  return diagnostics.map((diagnostic) => {
    const text = ts
      .flattenDiagnosticMessageText(diagnostic.messageText, " ")
      .replace(TYPE_PREFIX, "")
      .replace(
        /Object literal may only specify known properties, and '"?([^'"]+)"?' does not exist in type 'I?([^']+)'\./,
        'unknown field "$1" (not a field of $2)',
      );
    // Walk from the reported node up to the declaration, collecting the path.
    let node: ts.Node | undefined = findNode(sourceFile, diagnostic.start ?? 0);
    const keys: PathKey[] = [];
    let index = -1;
    while (node && !ts.isVariableDeclaration(node)) {
      const parent: ts.Node | undefined = node.parent;
      if (ts.isPropertyAssignment(node)) keys.unshift((node.name as ts.StringLiteral).text);
      else if (parent && ts.isArrayLiteralExpression(parent)) keys.unshift(parent.elements.indexOf(node as ts.Expression));
      node = parent;
    }
    if (node && ts.isVariableDeclaration(node)) index = Number(node.name.getText(sourceFile).slice(1));
    const doc = docs[index];
    if (!doc) return { file: fileName, line: 0, column: 0, field: "", message: text };
    return problemAt(doc, keys, text);
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

/** YAML files named, or found (not recursively) in the folders named. */
export function manifestFiles(targets: string[]): string[] {
  return targets.flatMap((target) =>
    statSync(target).isDirectory()
      ? readdirSync(target)
          .filter((name) => /\.ya?ml$/.test(name))
          .sort()
          .map((name) => path.join(target, name))
      : [target],
  );
}

export async function validateManifests(files: string[]): Promise<ValidationReport> {
  const problems: ManifestProblem[] = [];
  const parsed = parseFiles(files, problems);
  const typed: ParsedDoc[] = [];
  for (const doc of parsed) {
    if (doc.kind === "Kustomization" && doc.apiVersion.startsWith("kustomize.config.k8s.io/")) {
      checkKustomization(doc, problems);
      continue;
    }
    if (!doc.apiVersion || !doc.kind) {
      problems.push(problemAt(doc, [], "apiVersion and kind are required"));
      continue;
    }
    const Model = await modelClass(doc.apiVersion, doc.kind);
    if (!Model) {
      problems.push(problemAt(doc, ["kind"], `the Kubernetes API has no kind ${doc.kind} in ${doc.apiVersion}`));
      continue;
    }
    problems.push(...schemaProblems(doc, Model));
    typed.push(doc);
  }
  problems.push(...typeProblems(typed));
  problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
  // Both checks often see the same bad value; report each field once (the schema's words first).
  const seen = new Set<string>();
  const unique = problems.filter((p) => {
    const key = `${p.file}:${p.line}:${p.column}:${p.field}`;
    return !seen.has(key) && seen.add(key) !== undefined;
  });
  return {
    objects: parsed.map(({ file, apiVersion, kind, name, object }) => ({ file, apiVersion, kind, name, object })),
    problems: unique,
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const targets = process.argv.slice(2);
  const files = manifestFiles(targets.length > 0 ? targets : [path.join("deploy", "k8s")]);
  const { objects, problems } = await validateManifests(files);
  for (const p of problems) {
    process.stderr.write(`${p.file}:${p.line}:${p.column}: ${p.field ? `${p.field}: ` : ""}${p.message}\n`);
  }
  const kinds = objects.map((o) => (o.name ? `${o.kind}/${o.name}` : o.kind)).join(", ");
  process.stdout.write(`${problems.length === 0 ? "valid" : `${problems.length} problem(s)`}: ${kinds}\n`);
  process.exitCode = problems.length === 0 ? 0 : 1;
}

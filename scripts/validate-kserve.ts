/**
 * Validates KServe manifests offline against KServe's own schemas.
 *
 *   node --import tsx scripts/validate-kserve.ts [FILE|DIR ...]     (default: deploy/kserve)
 *
 * The schemas are the openAPIV3Schema parts of KServe's
 * CustomResourceDefinitions (ServingRuntime, ClusterServingRuntime,
 * InferenceService), kept in test/fixtures/kserve-crds/ with their source and
 * licence; no cluster, no network. Each object is checked:
 *  - against its kind's schema, with ajv: types, required fields, enums,
 *    formats (int32, int64) and the list rules of `x-kubernetes-list-type`
 *    (no two entries of a map list with the same key, no repeated set member);
 *  - strictly: the API server prunes the fields a structural schema does not
 *    declare, silently, so a misspelt or misplaced field would apply cleanly
 *    and do nothing. Here every object of the schema that does not set
 *    `x-kubernetes-preserve-unknown-fields` rejects the fields it does not
 *    declare, and `metadata` holds only the fields of ObjectMeta;
 *  - against the rules KServe's controller applies when it reconciles them:
 *    known protocol versions, a ServingRuntime that names the model formats it
 *    serves, runtime placeholders (`{{.Name}}`) it can fill, an
 *    InferenceService name it accepts, and an InferenceService whose runtime
 *    (when it is among the files) supports its model format and protocol.
 * A kustomization.yaml is checked as scripts/validate-k8s.ts checks it.
 * Each problem is reported as file:line:column with the field's path.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv, type AnySchemaObject, type ErrorObject, type SchemaValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import {
  checkKustomization,
  manifestFiles,
  parseFiles,
  problemAt,
  type ManifestProblem,
  type ParsedDoc,
  type ValidationReport,
} from "./validate-k8s.js";
import type { PathKey } from "./yaml-location.js";

export { manifestFiles };

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** KServe's CRDs, trimmed to what validation needs (see the README there). */
const CRD_DIR = path.join(ROOT, "test", "fixtures", "kserve-crds");

/** The values of KServe's InferenceServiceProtocol (pkg/constants). */
export const KSERVE_PROTOCOLS = ["v1", "v2", "grpc-v1", "grpc-v2"] as const;
/** KServe's webhook accepts InferenceService names matching this (IsvcNameFmt). */
const ISVC_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
/** Kubernetes object names: DNS-1123 subdomains. */
const DNS_SUBDOMAIN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

type SchemaNode = AnySchemaObject;
type Obj = Record<string, unknown>;
const asObject = (value: unknown): Obj | undefined =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Obj) : undefined;
const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

interface KindSchema {
  apiVersion: string;
  kind: string;
  schema: SchemaNode;
}

const PRESERVE = "x-kubernetes-preserve-unknown-fields";

const STRING = { type: "string" };
const STRING_MAP = { type: "object", additionalProperties: { type: "string" } };
/**
 * `metadata`: the fields of Kubernetes' ObjectMeta (meta/v1). The CRDs say
 * only `type: object` (the API server checks ObjectMeta itself and drops
 * anything else), so the schema is filled in here.
 */
const OBJECT_META: SchemaNode = {
  type: "object",
  required: ["name"],
  properties: {
    name: { type: "string", maxLength: 253, pattern: DNS_SUBDOMAIN },
    generateName: STRING,
    namespace: { type: "string", maxLength: 63, pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" },
    labels: STRING_MAP,
    annotations: STRING_MAP,
    finalizers: { type: "array", items: STRING },
    ownerReferences: { type: "array", items: { type: "object" } },
    // Set by the API server rather than by manifests.
    uid: STRING,
    resourceVersion: STRING,
    generation: { type: "integer", format: "int64" },
    creationTimestamp: STRING,
    deletionTimestamp: STRING,
    deletionGracePeriodSeconds: { type: "integer", format: "int64" },
    managedFields: { type: "array" },
    selfLink: STRING,
  },
  additionalProperties: false,
};

/**
 * A copy of a structural schema in which every object the API server would
 * prune rejects the fields it does not declare (`additionalProperties:
 * false`), unless it keeps unknown fields (`x-kubernetes-preserve-unknown-fields`)
 * or already says what other fields may hold.
 */
export function strictSchema(schema: SchemaNode): SchemaNode {
  const copy: SchemaNode = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "properties") {
      copy.properties = Object.fromEntries(
        Object.entries(value as Record<string, SchemaNode>).map(([name, sub]) => [name, strictSchema(sub)]),
      );
    } else if ((key === "items" || key === "additionalProperties" || key === "not") && typeof value === "object") {
      copy[key] = strictSchema(value as SchemaNode);
    } else if (key === "anyOf" || key === "allOf" || key === "oneOf") {
      copy[key] = (value as SchemaNode[]).map(strictSchema);
    } else {
      copy[key] = value;
    }
  }
  if (copy.type === "object" && copy[PRESERVE] !== true && copy.additionalProperties === undefined) {
    copy.additionalProperties = false;
  }
  return copy;
}

/**
 * The part of `schema` that can apply to `samples` (the values found at its
 * place in a document): the subschemas of fields no sample has become `{}`.
 * Validating against it is validating against the whole schema, and it
 * compiles in milliseconds where the whole InferenceService schema (a pod
 * spec for each component) takes seconds.
 */
function forData(schema: SchemaNode, samples: unknown[]): SchemaNode {
  const objects = samples.filter((s): s is Obj => asObject(s) !== undefined);
  const copy: SchemaNode = { ...schema };
  if (schema.properties) {
    copy.properties = Object.fromEntries(
      Object.entries(schema.properties as Record<string, SchemaNode>).map(([name, sub]) => {
        const values = objects.filter((o) => Object.hasOwn(o, name)).map((o) => o[name]);
        return [name, values.length > 0 ? forData(sub, values) : {}];
      }),
    );
  }
  if (typeof schema.additionalProperties === "object") {
    const declared = new Set(Object.keys((schema.properties as Obj | undefined) ?? {}));
    const values = objects.flatMap((o) => Object.entries(o).filter(([k]) => !declared.has(k)).map(([, v]) => v));
    copy.additionalProperties = forData(schema.additionalProperties as SchemaNode, values);
  }
  if (typeof schema.items === "object") {
    copy.items = forData(schema.items as SchemaNode, samples.filter(Array.isArray).flat());
  }
  for (const key of ["anyOf", "allOf", "oneOf"] as const) {
    if (Array.isArray(schema[key])) copy[key] = (schema[key] as SchemaNode[]).map((branch) => forData(branch, samples));
  }
  return copy;
}

/** The schema of each kind, keyed by `apiVersion kind`, from the CRDs in `dir`. */
function loadCrds(dir: string): Map<string, KindSchema> {
  const kinds = new Map<string, KindSchema>();
  for (const file of readdirSync(dir).filter((name) => name.endsWith(".json")).sort()) {
    const crd = JSON.parse(readFileSync(path.join(dir, file), "utf8")) as {
      spec: { group: string; names: { kind: string }; versions: { name: string; served: boolean; schema: { openAPIV3Schema: SchemaNode } }[] };
    };
    for (const version of crd.spec.versions.filter((v) => v.served)) {
      const apiVersion = `${crd.spec.group}/${version.name}`;
      const schema = strictSchema(version.schema.openAPIV3Schema);
      // status belongs to the controller: the API server ignores it in a manifest.
      const { status: _status, ...fields } = schema.properties as Record<string, SchemaNode>;
      schema.properties = { ...fields, metadata: OBJECT_META };
      schema.required = [...new Set([...(schema.required ?? []), "apiVersion", "kind", "metadata", "spec"])];
      kinds.set(`${apiVersion} ${crd.spec.names.kind}`, { apiVersion, kind: crd.spec.names.kind, schema });
    }
  }
  return kinds;
}

/**
 * `x-kubernetes-list-type`: a `set` holds no value twice; a `map` holds no two
 * entries with the same values of `x-kubernetes-list-map-keys` (a key left out
 * counts as its schema default, as the API server defaults it first).
 */
const listType: SchemaValidateFunction = (kind: unknown, data: unknown, parentSchema?: SchemaNode) => {
  if (!Array.isArray(data) || (kind !== "set" && kind !== "map")) return true;
  const errors: Partial<ErrorObject>[] = [];
  const keys = (parentSchema?.["x-kubernetes-list-map-keys"] ?? []) as string[];
  const itemProperties = (parentSchema?.items as SchemaNode | undefined)?.properties as Record<string, SchemaNode> | undefined;
  const seen = new Map<string, number>();
  data.forEach((item: unknown, index) => {
    let identity: string;
    if (kind === "set") identity = JSON.stringify(item);
    else {
      if (typeof item !== "object" || item === null) return;
      const record = item as Record<string, unknown>;
      identity = JSON.stringify(keys.map((key) => record[key] ?? itemProperties?.[key]?.default ?? null));
    }
    const first = seen.get(identity);
    if (first === undefined) seen.set(identity, index);
    else {
      const what = kind === "set" ? `the value ${identity}` : `the same ${keys.join(" and ")}`;
      errors.push({ keyword: "x-kubernetes-list-type", params: { index }, message: `repeats ${what} as entry ${first}` });
    }
  });
  listType.errors = errors;
  return errors.length === 0;
};

let ajvInstance: Ajv | undefined;
function ajv(): Ajv {
  if (ajvInstance) return ajvInstance;
  const instance = new Ajv({ allErrors: true, strict: true, strictTypes: false, verbose: true });
  // ajv-formats is CommonJS: its plugin is both module.exports and its `default`.
  addFormatsModule.default(instance, ["int32", "int64", "date-time"]);
  // Annotations for the API server that need no check here.
  instance.addVocabulary([PRESERVE, "x-kubernetes-int-or-string", "x-kubernetes-list-map-keys", "x-kubernetes-map-type", "x-kubernetes-embedded-resource"]);
  instance.addKeyword({ keyword: "x-kubernetes-list-type", type: "array", schemaType: "string", validate: listType, errors: true });
  ajvInstance = instance;
  return instance;
}

let kindsCache: Map<string, KindSchema> | undefined;
function kinds(): Map<string, KindSchema> {
  kindsCache ??= loadCrds(CRD_DIR);
  return kindsCache;
}

/** The apiVersion + kind pairs the CRDs define, e.g. "serving.kserve.io/v1beta1 InferenceService". */
function knownKinds(): string[] {
  return [...kinds().keys()];
}

function pointerKeys(pointer: string): PathKey[] {
  return pointer
    .split("/")
    .slice(1)
    .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** Every path (keys, "[]" for list items) at which `field` is a declared field of the schema. */
function placesOf(field: string, schema: SchemaNode): string[][] {
  const found: string[][] = [];
  const walk = (node: SchemaNode, at: string[]): void => {
    const properties = node.properties as Record<string, SchemaNode> | undefined;
    if (properties) {
      if (Object.hasOwn(properties, field)) found.push(at);
      for (const [name, sub] of Object.entries(properties)) walk(sub, [...at, name]);
    }
    if (node.items && typeof node.items === "object") walk(node.items as SchemaNode, [...at, "[]"]);
    if (node.additionalProperties && typeof node.additionalProperties === "object") {
      walk(node.additionalProperties as SchemaNode, [...at, "*"]);
    }
  };
  walk(schema, []);
  return found;
}

/**
 * The message for a field the schema does not declare: a close spelling of a
 * field that belongs there, or else the place nearby where the field belongs.
 */
function unknownField(field: string, at: PathKey[], declared: string[], root: SchemaNode): string {
  const close = declared
    .map((name) => ({ name, distance: name.toLowerCase() === field.toLowerCase() ? 0 : editDistance(name, field) }))
    .filter(({ distance }) => distance <= 2)
    .sort((a, b) => a.distance - b.distance || a.name.localeCompare(b.name));
  if (close.length > 0) return `unknown field "${field}": did you mean "${close[0]!.name}"?`;
  const here = at.map((key) => (typeof key === "number" ? "[]" : key));
  const shared = (place: string[]): number => {
    let n = 0;
    while (n < place.length && n < here.length && place[n] === here[n]) n++;
    return n;
  };
  const places = placesOf(field, root);
  const best = Math.max(0, ...places.map(shared));
  const nearest = places.filter((place) => shared(place) === best);
  if (best > 0 && nearest.length <= 2) {
    const names = nearest.map((place) => place.join(".").replace(/\.\[\]/g, "[]") || "the top level");
    return `unknown field "${field}" here: it is a field of ${names.join(" and of ")}`;
  }
  return `unknown field "${field}", which the API server would silently drop`;
}

function describeTypes(branches: SchemaNode[]): string {
  const types = branches.map((branch) => String(branch.type ?? "something else"));
  const article = (t: string): string => (/^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`);
  return types.map(article).join(" or ");
}

/** The object checked against its kind's schema, each error placed at its field. */
function schemaProblems(doc: ParsedDoc, kind: KindSchema): ManifestProblem[] {
  const schema = forData(kind.schema, [doc.object]);
  const validate = ajv().compile(schema);
  ajv().removeSchema(schema);
  if (validate(doc.object)) return [];
  const errors = validate.errors ?? [];
  // An int-or-string value that is neither: one error for the field, not one per alternative.
  const anyOfPaths = errors.filter((e) => e.keyword === "anyOf").map((e) => `${e.schemaPath}/`);
  const problems: ManifestProblem[] = [];
  for (const error of errors) {
    if (anyOfPaths.some((prefix) => error.schemaPath.startsWith(prefix))) continue;
    const keys = pointerKeys(error.instancePath);
    let message = error.message ?? "is invalid";
    if (error.keyword === "additionalProperties") {
      const field = String(error.params.additionalProperty);
      const declared = Object.keys((error.parentSchema?.properties as Record<string, unknown> | undefined) ?? {});
      message = unknownField(field, keys, declared, kind.schema);
      keys.push(field);
    } else if (error.keyword === "anyOf") {
      message = `must be ${describeTypes(error.schema as SchemaNode[])}`;
    } else if (error.keyword === "enum") {
      message = `must be equal to one of the allowed values (${(error.params.allowedValues as unknown[]).join(", ")})`;
    } else if (error.keyword === "x-kubernetes-list-type") {
      keys.push(Number(error.params.index));
    } else if (error.keyword === "pattern" && keys.at(-1) === "name" && keys[0] === "metadata") {
      message = "must be a lower-case DNS name: a-z, 0-9, '-' and '.', starting and ending with a letter or digit";
    }
    problems.push(problemAt(doc, keys, message));
  }
  return problems;
}


const PLACEHOLDER = /\{\{(.*?)\}\}/g;
/**
 * What KServe can fill in a runtime's container: it renders the container as
 * a Go template over the InferenceService's ObjectMeta.
 */
const FILLABLE = /^\s*(\.(Name|Namespace|GenerateName|UID)|\.(Labels|Annotations)\.[A-Za-z0-9_]+|index \.(Labels|Annotations) "[^"]+")\s*$/;

/** Placeholders in any string of a runtime's containers that KServe cannot fill. */
function placeholderProblems(doc: ParsedDoc, containers: unknown[]): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  const walk = (value: unknown, keys: PathKey[]): void => {
    if (typeof value === "string") {
      const rest = value.replace(PLACEHOLDER, (whole, inner: string) => {
        if (!FILLABLE.test(inner)) {
          problems.push(
            problemAt(
              doc,
              keys,
              `"${whole}" is not a placeholder KServe can fill: it fills {{.Name}}, {{.Namespace}}, ` +
                "{{.Labels.KEY}} and {{.Annotations.KEY}} from the InferenceService's metadata",
            ),
          );
        }
        return "";
      });
      if (rest.includes("{{") || rest.includes("}}")) {
        problems.push(problemAt(doc, keys, `unbalanced "{{" or "}}": KServe renders the container as a Go template`));
      }
    } else if (Array.isArray(value)) value.forEach((item, i) => walk(item, [...keys, i]));
    else if (asObject(value)) for (const [k, v] of Object.entries(value as Obj)) walk(v, [...keys, k]);
  };
  containers.forEach((container, i) => walk(container, ["spec", "containers", i]));
  return problems;
}

const isRuntime = (doc: ParsedDoc): boolean => doc.kind === "ServingRuntime" || doc.kind === "ClusterServingRuntime";
const protocolList = KSERVE_PROTOCOLS.join(", ");

/** The checks KServe's controller makes of a ServingRuntime or ClusterServingRuntime. */
function runtimeProblems(doc: ParsedDoc): ManifestProblem[] {
  const spec = asObject(doc.object.spec);
  if (!spec) return [];
  const problems: ManifestProblem[] = [];
  if (asArray(spec.supportedModelFormats).length === 0) {
    problems.push(
      problemAt(
        doc,
        ["spec"],
        `a ${doc.kind} must list supportedModelFormats: KServe runs it only for InferenceServices whose model format it names`,
      ),
    );
  }
  asArray(spec.protocolVersions).forEach((protocol, i) => {
    if (!(KSERVE_PROTOCOLS as readonly unknown[]).includes(protocol)) {
      problems.push(problemAt(doc, ["spec", "protocolVersions", i], `unknown protocol version "${String(protocol)}" (KServe knows ${protocolList})`));
    }
  });
  problems.push(...placeholderProblems(doc, asArray(spec.containers)));
  return problems;
}

/** KServe's test of whether a runtime supports a model format (model format labels, `mt:name[:version]`). */
function supportsFormat(runtime: Obj, format: Obj): boolean {
  const labels = new Set<string>();
  for (const entry of asArray(runtime.supportedModelFormats).map(asObject)) {
    if (!entry) continue;
    labels.add(`mt:${String(entry.name)}`);
    if (entry.version !== undefined) labels.add(`mt:${String(entry.name)}:${String(entry.version)}`);
  }
  const wanted = `mt:${String(format.name)}${format.version === undefined ? "" : `:${String(format.version)}`}`;
  return labels.has(wanted);
}

/** The checks KServe makes of an InferenceService, with its runtime when that is among `runtimes`. */
function inferenceServiceProblems(doc: ParsedDoc, runtimes: ParsedDoc[]): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  if (doc.name && !ISVC_NAME.test(doc.name)) {
    problems.push(
      problemAt(doc, ["metadata", "name"], "KServe wants an InferenceService name of lower-case letters, digits and '-', starting with a letter"),
    );
  }
  const model = asObject(asObject(asObject(doc.object.spec)?.predictor)?.model);
  if (!model) return problems;
  let protocol = model.protocolVersion;
  if (protocol !== undefined && !(KSERVE_PROTOCOLS as readonly unknown[]).includes(protocol)) {
    problems.push(
      problemAt(doc, ["spec", "predictor", "model", "protocolVersion"], `unknown protocol version "${String(protocol)}" (KServe knows ${protocolList})`),
    );
    protocol = undefined;
  }
  if (typeof model.runtime !== "string") return problems;
  // KServe looks for a ServingRuntime first, then a ClusterServingRuntime.
  const runtime =
    runtimes.find((r) => r.kind === "ServingRuntime" && r.name === model.runtime) ??
    runtimes.find((r) => r.kind === "ClusterServingRuntime" && r.name === model.runtime);
  const runtimeSpec = asObject(runtime?.object.spec);
  if (!runtime || !runtimeSpec) return problems;
  const at = ["spec", "predictor", "model"];
  const which = `${runtime.kind} "${runtime.name}" (${path.basename(runtime.file)})`;
  if (runtimeSpec.disabled === true) problems.push(problemAt(doc, [...at, "runtime"], `${which} is disabled`));
  if (typeof protocol === "string") {
    const served = asArray(runtimeSpec.protocolVersions).map(String);
    // A runtime that lists no protocol versions serves v1 only, to KServe.
    const supported = served.length === 0 ? protocol === "v1" : served.includes(protocol);
    if (!supported) {
      const offers = served.length === 0 ? "it lists no protocolVersions, which KServe takes as v1 only" : `it serves ${served.join(", ")}`;
      problems.push(problemAt(doc, [...at, "protocolVersion"], `${which} does not serve protocol ${protocol} (${offers})`));
    }
  }
  const format = asObject(model.modelFormat);
  if (format && !supportsFormat(runtimeSpec, format)) {
    const offered = asArray(runtimeSpec.supportedModelFormats)
      .map(asObject)
      .map((f) => (f?.version === undefined ? String(f?.name) : `${String(f.name)} version ${String(f.version)}`));
    const asked = format.version === undefined ? String(format.name) : `${String(format.name)} version ${String(format.version)}`;
    problems.push(
      problemAt(doc, [...at, "modelFormat"], `${which} does not support model format ${asked} (it supports ${offered.join(", ") || "none"})`),
    );
  }
  return problems;
}

export async function validateKServeManifests(files: string[]): Promise<ValidationReport> {
  const problems: ManifestProblem[] = [];
  const parsed = parseFiles(files, problems);
  const checked: ParsedDoc[] = [];
  for (const doc of parsed) {
    if (doc.kind === "Kustomization" && doc.apiVersion.startsWith("kustomize.config.k8s.io/")) {
      checkKustomization(doc, problems);
      continue;
    }
    if (!doc.apiVersion || !doc.kind) {
      problems.push(problemAt(doc, [], "apiVersion and kind are required"));
      continue;
    }
    const kind = kinds().get(`${doc.apiVersion} ${doc.kind}`);
    if (!kind) {
      const served = knownKinds().filter((k) => k.endsWith(` ${doc.kind}`));
      const hint = served.length > 0 ? ` (it has ${served.join(", ")})` : ` (it has ${knownKinds().join(", ")})`;
      problems.push(problemAt(doc, ["kind"], `KServe has no kind ${doc.kind} in ${doc.apiVersion}${hint}`));
      continue;
    }
    problems.push(...schemaProblems(doc, kind));
    checked.push(doc);
  }
  const runtimes = checked.filter(isRuntime);
  for (const doc of checked) {
    problems.push(...(isRuntime(doc) ? runtimeProblems(doc) : inferenceServiceProblems(doc, runtimes)));
  }
  problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
  const seen = new Set<string>();
  const unique = problems.filter((p) => {
    const key = `${p.file}:${p.line}:${p.column}:${p.field}:${p.message}`;
    return !seen.has(key) && seen.add(key) !== undefined;
  });
  return {
    objects: parsed.map(({ file, apiVersion, kind, name, object }) => ({ file, apiVersion, kind, name, object })),
    problems: unique,
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const targets = process.argv.slice(2);
  const files = manifestFiles(targets.length > 0 ? targets : [path.join("deploy", "kserve")]);
  const { objects, problems } = await validateKServeManifests(files);
  for (const p of problems) {
    process.stderr.write(`${p.file}:${p.line}:${p.column}: ${p.field ? `${p.field}: ` : ""}${p.message}\n`);
  }
  const kindsSeen = objects.map((o) => (o.name ? `${o.kind}/${o.name}` : o.kind)).join(", ");
  process.stdout.write(`${problems.length === 0 ? "valid" : `${problems.length} problem(s)`}: ${kindsSeen}\n`);
  process.exitCode = problems.length === 0 ? 0 : 1;
}

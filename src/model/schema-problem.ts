/**
 * One precise sentence from JSON Schema validation errors: the JSON path of
 * the first problem and what is wrong there, said from the schema itself,
 * e.g. `hyperparameters.seed: expected an integer from 0 to 4294967295, got "42"`.
 *
 * Reads the error objects TypeBox (and Ajv) produce: keyword, schemaPath,
 * instancePath (a JSON pointer), params.
 */

/** A validation error as JSON Schema validators report it. */
export interface SchemaError {
  keyword: string;
  schemaPath: string;
  instancePath: string;
  params: object;
  message: string;
}

/** Where the first problem is (`$` for the whole value) and what it is. */
export interface SchemaProblem {
  path: string;
  message: string;
}

type Node = Record<string, unknown>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** JSON pointer (`/a/0/b`, or `#/a/0/b`) → its unescaped segments. */
function segments(pointer: string): string[] {
  const body = pointer.startsWith("#") ? pointer.slice(1) : pointer;
  return body === "" ? [] : body.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function at(root: unknown, pointer: string): unknown {
  let v = root;
  for (const s of segments(pointer)) v = Array.isArray(v) ? v[Number(s)] : isObject(v) ? v[s] : undefined;
  return v;
}

/** The schema node an error refers to (TypeBox points at the node, Ajv at the keyword inside it). */
function nodeOf(schema: object, e: SchemaError): Node {
  const node = at(schema, e.schemaPath);
  if (isObject(node)) return node;
  const parent = at(schema, e.schemaPath.slice(0, e.schemaPath.lastIndexOf("/")));
  return isObject(parent) ? parent : {};
}

/** `features[0].unit`, `training.libraries["iris-serve"]`, `$` for the root. */
function jsonPath(value: unknown, pointer: string, extraKey?: string): string {
  const keys = segments(pointer);
  if (extraKey !== undefined) keys.push(extraKey);
  let path = "";
  let v = value;
  for (const key of keys) {
    if (Array.isArray(v)) {
      path += `[${key}]`;
      v = v[Number(key)];
    } else {
      path += /^[A-Za-z_$][\w$]*$/.test(key) ? `${path === "" ? "" : "."}${key}` : `[${JSON.stringify(key)}]`;
      v = isObject(v) ? v[key] : undefined;
    }
  }
  return path === "" ? "$" : path;
}

/** A value as a message shows it: strings quoted, containers by kind. */
function show(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") {
    const quoted = JSON.stringify(v);
    return quoted.length > 42 ? `${quoted.slice(0, 40)}…"` : quoted;
  }
  return String(v);
}

/** ` from 0 to 1`, ` > 0`, ` >= 0 and < 1`; the ±MAX_VALUE and MAX_SAFE_INTEGER bounds only say "finite", "exact". */
function range(node: Node): string {
  const num = (v: unknown) => (typeof v === "number" ? v : undefined);
  const lowExclusive = num(node.exclusiveMinimum);
  const low = lowExclusive ?? (node.minimum === -Number.MAX_VALUE ? undefined : num(node.minimum));
  const highExclusive = num(node.exclusiveMaximum);
  const high =
    highExclusive ??
    (node.maximum === Number.MAX_VALUE || node.maximum === Number.MAX_SAFE_INTEGER ? undefined : num(node.maximum));
  if (low !== undefined && high !== undefined && lowExclusive === undefined && highExclusive === undefined) {
    return ` from ${low} to ${high}`;
  }
  const parts: string[] = [];
  if (low !== undefined) parts.push(`${lowExclusive === undefined ? ">=" : ">"} ${low}`);
  if (high !== undefined) parts.push(`${highExclusive === undefined ? "<=" : "<"} ${high}`);
  return parts.length === 0 ? "" : ` ${parts.join(" and ")}`;
}

/** What a schema node accepts, in words. */
function describe(node: Node, phrases: ReadonlyMap<string, string>, root = false): string {
  if ("const" in node) return JSON.stringify(node.const);
  if (Array.isArray(node.enum)) return node.enum.map((v) => JSON.stringify(v)).join(" or ");
  if (Array.isArray(node.anyOf)) return node.anyOf.map((b) => describe(isObject(b) ? b : {}, phrases)).join(" or ");
  switch (node.type) {
    case "integer":
      return `an integer${range(node)}`;
    case "number":
      return `a finite number${range(node)}`;
    case "string":
      if (typeof node.pattern === "string") return phrases.get(node.pattern) ?? `a string matching /${node.pattern}/`;
      return node.minLength === 1 ? "a non-empty string" : "a string";
    case "boolean":
      return "true or false";
    case "null":
      return "null";
    case "array":
      return "an array";
    case "object":
      return root ? "a JSON object" : "an object";
    default:
      return "a valid value";
  }
}

/** Whether `v` is of the structural (object or array) type of an anyOf branch. */
function structurallyMatches(branch: unknown, v: unknown): boolean {
  if (!isObject(branch)) return false;
  if (branch.type === "object") return isObject(v);
  if (branch.type === "array") return Array.isArray(v);
  return false;
}

const unknownKey = (e: SchemaError): boolean =>
  e.keyword === "additionalProperties" || (e.keyword === "boolean" && e.schemaPath.endsWith("/additionalProperties"));

const within = (path: string, prefix: string): boolean => path === prefix || path.startsWith(`${prefix}/`);

/**
 * The first problem among `errors` (in the validator's order, taken within
 * `prefix` and outside the branches of any anyOf below it). An unknown key
 * goes before a missing key of the same object: a misspelt key is both.
 */
function pick(errors: readonly SchemaError[], prefix: string): SchemaError | undefined {
  const own = errors.filter((e) => within(e.schemaPath, prefix) && !e.schemaPath.slice(prefix.length).includes("/anyOf/"));
  const first = own[0];
  if (first?.keyword === "required") {
    const misspelt = own.find((e) => e.keyword === "additionalProperties" && e.instancePath === first.instancePath);
    if (misspelt) return misspelt;
  }
  return first;
}

/**
 * The first problem `errors` report about `value` against `schema`, as a
 * path and a sentence; `phrases` says in words what string patterns mean.
 */
export function firstSchemaProblem(
  schema: object,
  value: unknown,
  errors: readonly SchemaError[],
  phrases: ReadonlyMap<string, string>,
  prefix = "#",
): SchemaProblem {
  const e = pick(errors, prefix);
  if (e === undefined) return { path: "$", message: "does not match the schema" };
  const node = nodeOf(schema, e);
  const v = at(value, e.instancePath);
  const expected = () => `expected ${describe(node, phrases, e.instancePath === "")}, got ${show(v)}`;
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "required": {
      const missing = (params.requiredProperties ?? [params.missingProperty]) as string[];
      const key = missing[0]!;
      const properties = isObject(node.properties) ? node.properties : {};
      const property = isObject(properties[key]) ? properties[key] : {};
      return {
        path: jsonPath(value, e.instancePath, key),
        message: `expected ${describe(property, phrases)}, but the key is missing`,
      };
    }
    case "additionalProperties":
    case "boolean": {
      if (!unknownKey(e)) break;
      const objectPointer =
        e.keyword === "boolean" ? e.instancePath.slice(0, e.instancePath.lastIndexOf("/")) : e.instancePath;
      const key =
        e.keyword === "boolean"
          ? segments(e.instancePath).at(-1)!
          : ((params.additionalProperties ?? [params.additionalProperty]) as string[])[0]!;
      const allowed = isObject(node.properties) ? Object.keys(node.properties) : [];
      return { path: jsonPath(value, objectPointer, key), message: `unknown key (allowed: ${allowed.join(", ")})` };
    }
    case "anyOf": {
      const branches = Array.isArray(node.anyOf) ? node.anyOf : [];
      const b = branches.findIndex((branch) => structurallyMatches(branch, v));
      const branchPrefix = `${e.schemaPath}/anyOf/${b}`;
      if (b >= 0 && errors.some((other) => within(other.schemaPath, branchPrefix))) {
        return firstSchemaProblem(schema, value, errors, phrases, branchPrefix);
      }
      return { path: jsonPath(value, e.instancePath), message: expected() };
    }
    case "minItems":
    case "maxItems": {
      const limit = Number(params.limit);
      const length = Array.isArray(v) ? v.length : 0;
      const bound = e.keyword === "minItems" ? "at least" : "at most";
      return {
        path: jsonPath(value, e.instancePath),
        message: `expected ${bound} ${limit} ${limit === 1 ? "entry" : "entries"}, got ${length}`,
      };
    }
    case "type":
    case "const":
    case "enum":
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
    case "multipleOf":
    case "pattern":
    case "minLength":
    case "maxLength":
      return { path: jsonPath(value, e.instancePath), message: expected() };
  }
  return { path: jsonPath(value, e.instancePath), message: e.message };
}

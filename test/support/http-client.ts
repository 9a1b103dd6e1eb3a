/**
 * A plain HTTP client for the HTTP port (Node's fetch), which checks every
 * answer against the server's own OpenAPI document: the route and status
 * must be documented there, the Content-Type must be one the document
 * declares for them, and a JSON body (or the JSON part of a binary tensor
 * data answer) must validate, with ajv, against the schema declared for
 * that route, status and Content-Type. So every HTTP answer any suite gets
 * is also a check of the document.
 */
import { Ajv2020, type ErrorObject } from "ajv/dist/2020.js";

export interface HttpResponse {
  status: number;
  headers: Headers;
  /** The body as received. */
  bytes: Buffer;
  /** The body as UTF-8 text. */
  text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: unknown;
}

interface RequestOptions {
  /** A JS value is sent as JSON with Content-Type application/json; bytes or a string are sent as they are. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Check the answer against the OpenAPI document (default true). */
  conformance?: boolean;
}

interface OpenApiDocument {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>>;
}

/** The document of one server, compiled once. */
interface Checker {
  document: OpenApiDocument;
  ajv: Ajv2020;
  routes: { template: string; pattern: RegExp }[];
}

const checkers = new Map<string, Promise<Checker>>();

/** An Ajv for OpenAPI 3.1 schemas (JSON Schema 2020-12 plus OpenAPI's annotation keywords). */
export function openApiAjv(document: object): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: false });
  ajv.addSchema(document, "openapi");
  return ajv;
}

function routePattern(template: string): RegExp {
  const escaped = template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+");
  return new RegExp(`^${escaped}$`);
}

export function checkerFor(document: OpenApiDocument): Checker {
  return {
    document,
    ajv: openApiAjv(document),
    routes: Object.keys(document.paths).map((template) => ({ template, pattern: routePattern(template) })),
  };
}

function loadChecker(base: string): Promise<Checker> {
  let checker = checkers.get(base);
  if (checker === undefined) {
    checker = fetch(`${base}/openapi.json`).then(async (res) => {
      if (res.status !== 200) throw new Error(`GET /openapi.json answered ${res.status}`);
      return checkerFor((await res.json()) as OpenApiDocument);
    });
    checkers.set(base, checker);
  }
  return checker;
}

function pointer(...parts: string[]): string {
  return parts.map((p) => p.replace(/~/g, "~0").replace(/\//g, "~1")).join("/");
}

function describeErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || "(root)"} ${e.message ?? ""}`).join("; ");
}

/**
 * Throws unless `response` to `method path` is what the document declares.
 * Paths the document does not list (/docs, /openapi.json, unknown routes)
 * are only checked to be JSON error bodies when they are 4xx/5xx JSON.
 */
export function checkConformance(checker: Checker, method: string, path: string, response: HttpResponse): void {
  const url = path.split("?")[0]!;
  const route = checker.routes.find((r) => r.pattern.test(url));
  const where = `${method} ${url} → ${response.status}`;
  const contentType = (response.headers.get("content-type") ?? "").split(";")[0]!.trim();
  const operation = route === undefined ? undefined : checker.document.paths[route.template]![method.toLowerCase()];
  if (route === undefined || operation === undefined) {
    if (response.status >= 400 && contentType === "application/json") {
      const valid = checker.ajv.validate({ $ref: "openapi#/components/schemas/ErrorBody" }, response.json);
      if (!valid) throw new Error(`${where}: the body is not an ErrorBody: ${describeErrors(checker.ajv.errors)}`);
    }
    return;
  }
  const declared = operation.responses[String(response.status)];
  if (declared === undefined) {
    throw new Error(`${where}: status ${response.status} is not documented for ${method} ${route.template} (${Object.keys(operation.responses).join(", ")})`);
  }
  const content = declared.content ?? {};
  if (!(contentType in content)) {
    throw new Error(`${where}: Content-Type ${contentType} is not documented (${Object.keys(content).join(", ") || "none"})`);
  }
  // A text answer (/metrics) is checked as a string.
  let body: unknown = contentType.startsWith("text/") ? response.text : response.json;
  let schemaType = contentType;
  if (contentType === "application/octet-stream") {
    // The binary tensor data extension: the JSON part is the JSON answer.
    const length = Number(response.headers.get("inference-header-content-length"));
    if (!Number.isSafeInteger(length)) throw new Error(`${where}: a binary answer without Inference-Header-Content-Length`);
    body = JSON.parse(response.bytes.subarray(0, length).toString("utf8"));
    schemaType = "application/json";
  }
  if (!(schemaType in content)) throw new Error(`${where}: no ${schemaType} schema documented`);
  const ref = `openapi#/${pointer("paths", route.template, method.toLowerCase(), "responses", String(response.status), "content", schemaType, "schema")}`;
  if (!checker.ajv.validate({ $ref: ref }, body)) {
    throw new Error(`${where}: the body does not match the documented schema: ${describeErrors(checker.ajv.errors)}\n${response.text.slice(0, 500)}`);
  }
}

export interface HttpClient {
  readonly base: string;
  request(method: string, path: string, options?: RequestOptions): Promise<HttpResponse>;
  get(path: string, options?: RequestOptions): Promise<HttpResponse>;
  /** POST with `body` as JSON (a JS value) or as given (bytes or a string, no Content-Type unless given). */
  post(path: string, body: unknown, options?: RequestOptions): Promise<HttpResponse>;
}

export function httpClient(base: string): HttpClient {
  const request = async (method: string, path: string, options: RequestOptions = {}): Promise<HttpResponse> => {
    const headers: Record<string, string> = { ...options.headers };
    let body: Uint8Array | undefined;
    if (options.body instanceof Uint8Array) body = options.body;
    else if (typeof options.body === "string") body = Buffer.from(options.body, "utf8");
    else if (options.body !== undefined) {
      body = Buffer.from(JSON.stringify(options.body), "utf8");
      headers["content-type"] ??= "application/json";
    }
    // Bytes, not a string: fetch would add "Content-Type: text/plain" to a string.
    const res = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    const bytes = Buffer.from(await res.arrayBuffer());
    const text = bytes.toString("utf8");
    let json: unknown;
    if ((res.headers.get("content-type") ?? "").startsWith("application/json")) json = JSON.parse(text);
    const response: HttpResponse = { status: res.status, headers: res.headers, bytes, text, json };
    if (options.conformance ?? true) checkConformance(await loadChecker(base), method, path, response);
    return response;
  };
  return {
    base,
    request,
    get: (path, options) => request("GET", path, options),
    post: (path, body, options) => request("POST", path, { ...options, body }),
  };
}

/** The JSON part and the binary part of a binary tensor data answer. */
export function splitBinaryAnswer(response: HttpResponse): { json: Record<string, unknown>; binary: Buffer } {
  const length = Number(response.headers.get("inference-header-content-length"));
  if (!Number.isSafeInteger(length)) throw new Error("no Inference-Header-Content-Length header");
  return {
    json: JSON.parse(response.bytes.subarray(0, length).toString("utf8")) as Record<string, unknown>,
    binary: response.bytes.subarray(length),
  };
}

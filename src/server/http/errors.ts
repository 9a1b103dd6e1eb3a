/**
 * Errors on the HTTP port, in one place: an IrisError's code becomes the
 * HTTP status, its message the body's one-line `error` (the Open Inference
 * Protocol's error object) and its field violations `violations`; an error
 * with a retry hint (the server shed the request) is 503 with `Retry-After`
 * whatever its code (RESOURCE_EXHAUSTED without one is a size limit, 413);
 * schema
 * validation failures become the same body with the project's wording
 * (`features[2] must be >= 0 cm, got -1.4`), and anything unexpected is a
 * 500 with a generic message, its cause logged.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { Code, IrisError, type FieldViolation } from "../../errors.js";
import type { Logger } from "../../logger.js";
import { measurementProblem } from "../../model/index.js";
import { Violations } from "../validate.js";

/** The body of every error answer. */
export interface ErrorBody {
  /** What went wrong, in one line. */
  error: string;
  /** The offending fields, when the request was invalid. */
  violations?: FieldViolation[];
}

const HTTP_STATUS: Partial<Record<Code, number>> = {
  [Code.INVALID_ARGUMENT]: 400,
  [Code.FAILED_PRECONDITION]: 400,
  [Code.OUT_OF_RANGE]: 400,
  [Code.UNAUTHENTICATED]: 401,
  [Code.PERMISSION_DENIED]: 403,
  [Code.NOT_FOUND]: 404,
  [Code.ALREADY_EXISTS]: 409,
  [Code.ABORTED]: 409,
  [Code.RESOURCE_EXHAUSTED]: 413,
  [Code.CANCELLED]: 499,
  [Code.UNIMPLEMENTED]: 501,
  [Code.UNAVAILABLE]: 503,
  [Code.DEADLINE_EXCEEDED]: 504,
};

/** Codes whose message is never sent: what went wrong inside is for the log only. */
const OPAQUE: ReadonlySet<number> = new Set([Code.OK, Code.UNKNOWN, Code.INTERNAL, Code.DATA_LOSS]);

function httpStatus(error: IrisError): number {
  if (error.retryAfterMs !== undefined) return 503;
  return HTTP_STATUS[error.code] ?? 500;
}

/** `Retry-After` in whole seconds, at least 1 (the header has no finer unit). */
function retryAfterSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

function errorBody(error: IrisError): ErrorBody {
  return error.violations.length > 0 ? { error: error.message, violations: [...error.violations] } : { error: error.message };
}

/** A JSON pointer (`/features/2/1`) as a field path (`features[2][1]`). */
function fieldPath(instancePath: string, extra?: string): string {
  const parts = instancePath.split("/").slice(1);
  if (extra !== undefined) parts.push(extra);
  let path = "";
  for (const part of parts) {
    const key = part.replace(/~1/g, "/").replace(/~0/g, "~");
    path += /^\d+$/.test(key) ? `[${key}]` : path === "" ? key : `.${key}`;
  }
  return path === "" ? "body" : path;
}

const EMPTY_BODY: FieldViolation = { field: "body", description: "is empty or null; send a JSON object" };

/**
 * The answer to an empty body, the same whether the body was read (a
 * Content-Type was sent) or not.
 */
export function emptyBody(): IrisError {
  return new IrisError(Code.INVALID_ARGUMENT, `body ${EMPTY_BODY.description}`, { violations: [EMPTY_BODY] });
}

/** The `$comment` that marks a schema as a measurement in cm (its errors use the measurement wording). */
export const MEASUREMENT = "measurement";

/** What ajv reports of one problem (with `verbose`, the offending value is `data`). */
interface SchemaProblem {
  keyword: string;
  instancePath: string;
  schemaPath: string;
  params: Record<string, unknown>;
  message?: string;
  data?: unknown;
  parentSchema?: { description?: string; $comment?: string; minItems?: number; maxItems?: number; anyOf?: { type?: string }[] };
}

function shown(value: unknown): string {
  if (typeof value === "number") return String(value);
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** One schema problem in the project's words. */
function violationOf(problem: SchemaProblem): FieldViolation | undefined {
  const { keyword, instancePath, params, data } = problem;
  const measurement = problem.parentSchema?.$comment === MEASUREMENT;
  switch (keyword) {
    case "if":
      // The branch's own errors say what is wrong.
      return undefined;
    case "required":
      return { field: fieldPath(instancePath, String(params.missingProperty)), description: "is required" };
    case "additionalProperties":
      return { field: fieldPath(instancePath, String(params.additionalProperty)), description: "is not a field of this request" };
    case "type":
      // ajv's numbers are finite: 1e999 (parsed as Infinity) fails `type`.
      if (measurement && typeof data === "number") return { field: fieldPath(instancePath), description: measurementProblem(data)! };
      // No body at all (none is parsed without a Content-Type: fastify
      // validates null then), or the JSON `null`.
      if (instancePath === "" && (data === null || data === undefined)) return EMPTY_BODY;
      return { field: fieldPath(instancePath), description: `must be ${article(String(params.type))}, got ${shown(data)}` };
    case "minimum":
    case "exclusiveMinimum":
      if (measurement && typeof data === "number") {
        return { field: fieldPath(instancePath), description: measurementProblem(data) ?? `must be >= ${String(params.limit)}` };
      }
      return { field: fieldPath(instancePath), description: `must be ${String(params.comparison)} ${String(params.limit)}, got ${shown(data)}` };
    case "minItems":
    case "maxItems": {
      const count = Array.isArray(data) ? data.length : 0;
      const { description: what, minItems, maxItems } = problem.parentSchema ?? {};
      const bound = minItems === maxItems ? "" : keyword === "minItems" ? "at least " : "at most ";
      return {
        field: fieldPath(instancePath),
        description: `has ${count} value${count === 1 ? "" : "s"}, expected ${bound}${String(params.limit)}${what ? ` (${what})` : ""}`,
      };
    }
    case "anyOf": {
      // One violation naming every type accepted (the branches' own errors are left out).
      const types = (problem.parentSchema?.anyOf ?? []).map((branch) => article(String(branch.type)));
      const list = types.length > 1 ? `${types.slice(0, -1).join(", ")} or ${types.at(-1)!}` : (types[0] ?? "valid");
      return { field: fieldPath(instancePath), description: `must be ${list}, got ${shown(data)}` };
    }
    case "enum":
      return {
        field: fieldPath(instancePath),
        description: `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}, got ${shown(data)}`,
      };
    default:
      return { field: fieldPath(instancePath), description: `${problem.message ?? "is invalid"}` };
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** The INVALID_ARGUMENT for a request that failed its route's schema. */
function schemaError(problems: readonly SchemaProblem[]): IrisError {
  const violations = new Violations();
  const seen = new Set<string>();
  const anyOf = problems.filter((p) => p.keyword === "anyOf").map((p) => `${p.schemaPath}/`);
  for (const problem of problems) {
    if (anyOf.some((prefix) => problem.schemaPath.startsWith(prefix))) continue;
    const v = violationOf(problem);
    if (v === undefined) continue;
    const key = `${v.field} ${v.description}`;
    if (seen.has(key)) continue;
    seen.add(key);
    violations.add(v.field, v.description);
  }
  return violations.error() ?? new IrisError(Code.INVALID_ARGUMENT, "the request does not match its schema");
}

/** The error handler of the HTTP server: every failure is answered here. */
export function errorHandler(logger: Logger, bodyLimit: number) {
  return (err: FastifyError | IrisError, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    let error: IrisError;
    if (err instanceof IrisError) error = err;
    else if ((err as FastifyError).validation) error = schemaError((err as FastifyError).validation as unknown as SchemaProblem[]);
    else error = fromFastify(err as FastifyError, bodyLimit);
    if (OPAQUE.has(error.code)) {
      logger.error({ err, method: request.method, url: request.url }, "internal error");
      return reply.code(500).send({ error: "internal error" } satisfies ErrorBody);
    }
    if (error.retryAfterMs !== undefined) void reply.header("retry-after", retryAfterSeconds(error.retryAfterMs));
    if (error.code === Code.UNAUTHENTICATED) void reply.header("www-authenticate", 'Bearer realm="iris-serve"');
    return reply.code(httpStatus(error)).send(errorBody(error));
  };
}

/** Fastify's own errors (body too large, bad content, ...) as IrisErrors with the same wording style. */
function fromFastify(err: FastifyError, bodyLimit: number): IrisError {
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new IrisError(Code.RESOURCE_EXHAUSTED, `the request body is larger than the server's limit of ${bodyLimit} bytes`);
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new IrisError(Code.INVALID_ARGUMENT, "the request body's length does not match its Content-Length");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return emptyBody();
    default:
      if (typeof err.statusCode === "number" && err.statusCode >= 400 && err.statusCode < 500) {
        return new IrisError(Code.INVALID_ARGUMENT, err.message);
      }
      return IrisError.from(err);
  }
}

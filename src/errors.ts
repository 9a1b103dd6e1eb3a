/**
 * The project's one error type. Every failure a caller can act on is an
 * IrisError carrying a gRPC status code; the server maps it to
 * `{ code, details }` in one place and the CLI maps it to an exit code.
 *
 * The codes are gRPC's own numbers (see grpc/status.h), redeclared here so
 * that the model and training layers do not depend on the transport.
 */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type Code = (typeof Code)[keyof typeof Code];

const codeNames = Object.fromEntries(Object.entries(Code).map(([name, value]) => [value, name])) as Record<
  Code,
  keyof typeof Code
>;

/** The name of a status code, e.g. `INVALID_ARGUMENT`. */
export function codeName(code: Code): string {
  return codeNames[code] ?? `CODE_${code}`;
}

/** One field that was wrong, for google.rpc.BadRequest-style details. */
export interface FieldViolation {
  /** Path of the offending field, e.g. `flowers[3].petal_width`. */
  field: string;
  /** What is wrong with it. */
  description: string;
}

export interface IrisErrorOptions {
  /** The underlying error; logged, never sent to a remote caller. */
  cause?: unknown;
  /** Field-level violations (INVALID_ARGUMENT). */
  violations?: FieldViolation[];
  /**
   * The caller may retry after this many milliseconds: the server refused
   * for now (it is overloaded, or the caller's connection has too much
   * unread), not for good. Sent as google.rpc.RetryInfo over gRPC and as
   * `Retry-After` (with 503 rather than 413) over HTTP.
   */
  retryAfterMs?: number;
}

export class IrisError extends Error {
  override readonly name = "IrisError";
  readonly code: Code;
  readonly violations: readonly FieldViolation[];
  /** When set, retrying after this many milliseconds may succeed (see IrisErrorOptions.retryAfterMs). */
  readonly retryAfterMs: number | undefined;

  constructor(code: Code, message: string, options: IrisErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.violations = options.violations ?? [];
    this.retryAfterMs = options.retryAfterMs;
  }

  /**
   * Wraps anything thrown into an IrisError. An IrisError is returned as is;
   * anything else becomes INTERNAL with a generic message, keeping the
   * original as `cause` for the log.
   */
  static from(reason: unknown, fallbackMessage = "internal error"): IrisError {
    if (reason instanceof IrisError) return reason;
    return new IrisError(Code.INTERNAL, fallbackMessage, { cause: reason });
  }
}

/** The words for the file-system errors a person can act on, by errno code. */
const FILE_PROBLEMS: Readonly<Record<string, string>> = {
  ENOENT: "file not found",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  ENOTDIR: "part of the path is a file, not a directory",
  EEXIST: "a file is in the way of a directory",
  EISDIR: "is a directory, not a file",
};

/** Why a file-system call failed, in words: its errno code's, else the error's own message. */
export function fileProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return (code !== undefined ? FILE_PROBLEMS[code] : undefined) ?? (err as Error).message;
}

/** Whether a file-system call failed because the file does not exist. */
export function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === "ENOENT";
}

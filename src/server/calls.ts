/**
 * One call to the server, whatever its API, as the per-call machinery sees
 * it: the gRPC interceptor (./grpc/calls.ts) and the HTTP hooks
 * (./http/calls.ts) make a Call when a request starts, run every stage's
 * `start` (which may refuse the call by throwing an IrisError: access
 * control, load shedding), and every stage's `end` once the answer has gone
 * (metrics, access logs). A call carries a request id when the caller sent
 * a usable `x-request-id` (metadata or header), or when a stage records
 * request ids (the access log): then a caller that sent none, or an
 * unusable one, gets a new one. The id is returned to the caller the same
 * way. Without a stage that records them, a new id would be written
 * nowhere, and it is not made: every distinct value in a response header
 * costs HTTP/2's header compression (HPACK) a new table entry, and with the
 * header's handling that was 3 to 4 µs of the 70 µs a Predict call cost the
 * server in a CPU profile under load.
 */
import { randomUUID } from "node:crypto";

/** The metadata key / header of the request id, in and out. */
export const REQUEST_ID_KEY = "x-request-id";

/** What a call is a call of: a gRPC method, or an HTTP method on a route. */
export interface CallMethod {
  readonly api: "grpc" | "http";
  /** gRPC: the service (`iris.v1.IrisService`); HTTP: the HTTP method (`POST`). */
  readonly service: string;
  /**
   * gRPC: the method (`Predict`); HTTP: the route as declared
   * (`/v2/models/:name/infer`), never the raw URL; "" when no route
   * matched (a 404).
   */
  readonly method: string;
  /** gRPC: the go-grpc-prometheus grpc_type (`unary`, `server_stream`, ...); HTTP: "http". */
  readonly kind: string;
}

export interface Call extends CallMethod {
  /** The request id, returned to the caller; undefined when the caller sent none and no stage records them. */
  readonly requestId: string | undefined;
  /** The caller's address, `ip:port`. */
  readonly peer: string;
  /** performance.now() when the request started. */
  readonly started: number;
  /** The `authorization` the caller sent (metadata or header), for authentication only: never logged. */
  readonly authorization?: string | undefined;
  /** The subject of the client certificate the TLS connection presented and that was verified (mutual TLS). */
  readonly clientSubject?: string | undefined;
  /** Rows answered, when the call predicted. */
  rows?: number;
  /** The version of the model that answered, when one did. */
  modelVersion?: string;
  /** How many of the stages, in order, have seen `start` return (set by startCall; stages ignore it). */
  stagesStarted: number;
  /** Set by endCall once the stages have seen the end. */
  ended: boolean;
}

export interface CallEnd {
  /** gRPC: the status code; HTTP: the status code. */
  readonly status: number;
  /** From the start of the request to the answer, in milliseconds. */
  readonly ms: number;
}

export interface CallStage {
  /** True for a stage that records request ids (the access log): every call then gets one. */
  readonly recordsRequestIds?: boolean;
  /**
   * A gRPC method has been registered on the port (before it listens), so
   * that a stage can prepare for its calls (metrics start every method's
   * series at 0).
   */
  declare?(method: CallMethod): void;
  /**
   * A call has started (metadata or headers received, before the body is
   * read). Throw an IrisError to refuse it: the stages after this one do
   * not see it start.
   */
  start?(call: Call): void;
  /**
   * The call has ended (answered, refused or cancelled); called once, for
   * every call whose `start` this stage saw return (a stage without
   * `start`: every call). A stage that admits calls counts them out here.
   */
  end?(call: Call, end: CallEnd): void;
}

/** Runs the stages' `start` in order; a stage's throw refuses the call and is thrown on. */
export function startCall(stages: readonly CallStage[], call: Call): void {
  for (let i = 0; i < stages.length; i++) {
    stages[i]!.start?.(call);
    call.stagesStarted = i + 1;
  }
}

/** Runs the stages' `end` (see CallStage.end), once per call. */
export function endCall(stages: readonly CallStage[], call: Call, status: number): void {
  if (call.ended) return;
  call.ended = true;
  const end: CallEnd = { status, ms: performance.now() - call.started };
  for (let i = 0; i < stages.length; i++) {
    const stage = stages[i]!;
    if (i < call.stagesStarted || stage.start === undefined) stage.end?.(call, end);
  }
}

/** Longest request id taken from a caller; longer ones are replaced, not truncated. */
const MAX_REQUEST_ID_LENGTH = 128;
const USABLE_REQUEST_ID = /^[\x21-\x7e]+$/;

/**
 * The caller's request id when it is usable (printable ASCII, no spaces, at
 * most 128 characters), else a new UUID when `mint` (a stage records
 * request ids), else undefined.
 */
export function requestIdOf(value: unknown, mint: boolean): string | undefined {
  if (typeof value === "string" && value.length <= MAX_REQUEST_ID_LENGTH && USABLE_REQUEST_ID.test(value)) return value;
  return mint ? randomUUID() : undefined;
}

/** Whether request ids are made for callers that send none (see Call). */
export function mintsRequestIds(stages: readonly CallStage[]): boolean {
  return stages.some((stage) => stage.recordsRequestIds === true);
}

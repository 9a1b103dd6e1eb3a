/**
 * The one place where a unary gRPC call is carried out: a call already
 * cancelled (client gone, deadline passed) is dropped before any work; the
 * handler runs and either returns the answer or throws; a throw becomes a
 * status through toServiceStatus (INTERNAL is logged with its cause); the
 * callback is called exactly once, outside the try block; at debug level one
 * "call" line is logged per call. Handlers therefore only return or throw.
 */
import type { handleUnaryCall, sendUnaryData, ServerUnaryCall } from "@grpc/grpc-js";
import { Code } from "../../errors.js";
import type { Logger } from "../../logger.js";
import { toServiceStatus } from "./status.js";

/** Answers one request, or throws (an IrisError for anything the caller should see). */
export type UnaryHandler<Req, Res> = (request: Req, call: ServerUnaryCall<Req, Res>) => Res;

/** Extra fields of a call's debug line (row count, model version...); `response` is absent on failure. */
export type DescribeCall<Req, Res> = (request: Req, response: Res | undefined) => Record<string, unknown>;

const CANCELLED = { code: Code.CANCELLED, details: "call cancelled before it was handled" };

/** A grpc-js unary handler running `handler` as described above; `method` names it in logs. */
export function unary<Req, Res>(
  method: string,
  logger: Logger,
  handler: UnaryHandler<Req, Res>,
  describe: DescribeCall<Req, Res> = () => ({}),
): handleUnaryCall<Req, Res> {
  // Decided once: per-call logging costs nothing when debug is off.
  const debug = logger.isLevelEnabled("debug");
  const log = (started: number, fields: Record<string, unknown>): void => {
    logger.debug({ method, ms: Number((performance.now() - started).toFixed(3)), ...fields }, "call");
  };
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    if (call.cancelled) return callback(CANCELLED);
    const started = debug ? performance.now() : 0;
    let response: Res;
    try {
      response = handler(call.request, call);
    } catch (err) {
      const status = toServiceStatus(err, logger, method);
      if (debug) log(started, { code: status.code, details: status.details, ...describe(call.request, undefined) });
      return callback(status);
    }
    callback(null, response);
    if (debug) log(started, { code: Code.OK, ...describe(call.request, response) });
  };
}

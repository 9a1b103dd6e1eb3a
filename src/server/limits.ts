/**
 * The process-wide limits shared by both ports, and the calls they never
 * apply to.
 *
 * - InflightBytes: request bytes being received or handled at once. Each
 *   call reserves its request's bytes as they arrive and gives them back
 *   when it ends; a call whose bytes do not fit is refused at once
 *   (RESOURCE_EXHAUSTED with a retry hint; HTTP 503 with Retry-After),
 *   before its message is decoded. This bounds the memory that messages in
 *   transit, decoding and handling can take, whatever the number of
 *   connections and streams.
 * - LoadShedder: a CallStage that admits at most `maxConcurrentCalls` calls
 *   at once and refuses the others at their start, before their message is
 *   read, so that accepted calls keep their latency instead of everything
 *   queueing.
 *
 * Probes (health and readiness, see isProbe) are exempt from both, and from
 * authentication: a probe must be answered promptly whatever the load.
 */
import { Code, IrisError } from "../errors.js";
import type { Call, CallStage } from "./calls.js";

/** How long a shed caller is told to wait before retrying. */
export const SHED_RETRY_AFTER_MS = 1_000;

/** What a call is, as far as the exemptions go. */
type CallKind = Pick<Call, "api" | "service" | "method">;

/** gRPC methods that report health or readiness, by service (looked up without building a string per call). */
const PROBE_METHODS: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  ["grpc.health.v1.Health", new Set(["Check", "Watch", "List"])],
  ["inference.GRPCInferenceService", new Set(["ServerLive", "ServerReady", "ModelReady"])],
]);

/** HTTP routes (as declared) that report health or readiness, and the metrics scrape. */
const PROBE_ROUTES: ReadonlySet<string> = new Set([
  "/metrics",
  "/v2/health/live",
  "/v2/health/ready",
  "/v2/models/:name/ready",
  "/v2/models/:name/versions/:version/ready",
]);

/**
 * Whether a call is a health or readiness probe: grpc.health.v1 and the
 * Open Inference Protocol's live and ready methods and routes, and the
 * Prometheus scrape of GET /metrics. Probes are never authenticated, shed
 * or counted against the limits.
 */
export function isProbe(call: CallKind): boolean {
  if (call.api !== "grpc") return PROBE_ROUTES.has(call.method);
  return PROBE_METHODS.get(call.service)?.has(call.method) === true;
}

/** The refusal of a call that does not fit: RESOURCE_EXHAUSTED, retry later. */
export function shed(message: string): IrisError {
  return new IrisError(Code.RESOURCE_EXHAUSTED, message, { retryAfterMs: SHED_RETRY_AFTER_MS });
}

/** Request bytes being received or handled, process-wide (see the module comment). */
export class InflightBytes {
  readonly limit: number;
  #used = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Bytes reserved now. */
  get used(): number {
    return this.#used;
  }

  /** Reserves `bytes` when they fit under the limit; false (and nothing reserved) when they do not. */
  tryReserve(bytes: number): boolean {
    if (this.#used + bytes > this.limit) return false;
    this.#used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
  }

  /** The refusal of a call whose bytes do not fit. */
  refusal(): IrisError {
    return shed(
      `the server is busy: ${this.#used} bytes of requests are in progress (limit ${this.limit}); retry shortly or on another instance`,
    );
  }
}

/**
 * Admits at most `limit` calls at once (probes aside); the others are
 * refused at their start. Calls also wait for nothing: a refusal costs the
 * caller one round trip.
 */
export class LoadShedder implements CallStage {
  readonly limit: number;
  readonly #inflight: InflightBytes | undefined;
  #active = 0;

  /** With `inflight`, calls are also refused at their start while no request byte is free. */
  constructor(limit: number, inflight?: InflightBytes) {
    this.limit = limit;
    this.#inflight = inflight;
  }

  /** Calls admitted and not yet ended. */
  get active(): number {
    return this.#active;
  }

  start(call: Call): void {
    if (isProbe(call)) return;
    if (this.#active >= this.limit) {
      throw shed(`the server is busy: ${this.#active} calls in progress (limit ${this.limit}); retry shortly or on another instance`);
    }
    if (this.#inflight !== undefined && this.#inflight.used >= this.#inflight.limit) throw this.#inflight.refusal();
    this.#active++;
  }

  /** Called only for calls whose start returned (see CallStage.end): those admitted and probes. */
  end(call: Call): void {
    if (!isProbe(call)) this.#active--;
  }
}

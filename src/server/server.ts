/**
 * The serving process: the gRPC transport and the HTTP transport over one
 * model holder and one readiness, started together and stopped together.
 *
 * startIrisServer resolves once both ports are bound, and rejects with
 * nothing left listening when either cannot be. shutdown() is the graceful
 * stop of both: readiness turns false first (grpc.health.v1 NOT_SERVING,
 * `/v2/health/ready` 503), then both stop accepting connections, requests
 * in flight get the grace period to finish, then whatever is left is cut
 * off.
 *
 * Both ports share the process-wide limits (./limits.ts): the calls in
 * progress (LoadShedder, a stage after the caller's) and the request bytes
 * in progress (InflightBytes), and authentication when it is on
 * (./auth.ts, a stage before the shedder: an unauthenticated call never
 * takes a place).
 *
 * Each server has its own metrics (unless `metrics: false`), counted by a
 * call stage that runs before the caller's stages, served at `GET /metrics`
 * on the HTTP port; with a ModelReloader it reloads its model while it
 * serves (polling from start until shutdown).
 */
import type { ServerCredentials } from "@grpc/grpc-js";
import { DEFAULTS } from "../config.js";
import type { IrisServiceServer } from "../gen/iris.js";
import type { Logger } from "../logger.js";
import type { CallStage } from "./calls.js";
import { formatAddress, startGrpcServer, type GrpcLimits, type GrpcServer } from "./grpc/server.js";
import type { HealthReporter } from "./grpc/health.js";
import type { HttpServer } from "./http/server.js";
import { NO_RECORDER } from "./metrics/recorder.js";
import { ServerMetrics } from "./metrics/server-metrics.js";
import type { ModelHolder } from "./model-holder.js";
import { InflightBytes, LoadShedder } from "./limits.js";
import type { ModelReloader } from "./model-reloader.js";
import { Readiness } from "./readiness.js";
import { holdTickObject } from "./tick-object.js";

export interface IrisServerOptions {
  host: string;
  /** The gRPC port; 0 picks a free one (IrisServer.port tells which). */
  port: number;
  /** The HTTP port; 0 picks a free one; undefined: no HTTP server. */
  httpPort?: number | undefined;
  holder: ModelHolder;
  logger: Logger;
  /** The model's name in the Open Inference Protocol; the artifact's name when absent. */
  modelName?: string | undefined;
  /** The server's version, as the Open Inference Protocol's server metadata gives it. */
  serverVersion?: string;
  maxBatchRows: number;
  /** Largest request (gRPC message or HTTP body), in bytes. */
  maxReceiveBytes: number;
  /** See GrpcServerOptions; 0 or absent: never. */
  maxConnectionAgeMs?: number;
  maxConnectionAgeGraceMs?: number;
  /** TLS for both ports: grpc-js credentials and the PEMs they were made of. */
  tls?: { credentials: ServerCredentials; pem: { cert: Buffer; key: Buffer; clientCa?: Buffer | undefined } } | undefined;
  /** The per-call stages (see ./calls.ts), run for every call on both ports. */
  stages?: readonly CallStage[];
  /** The limits of both ports; each one left out is the configuration's default (../config.ts). */
  limits?: Partial<ServerLimits>;
  /** Refuses calls without credentials (./auth.ts), after `stages` and before the load shedder. */
  auth?: CallStage | undefined;
  /** Count calls and predictions and serve them at `GET /metrics` (default true). */
  metrics?: boolean;
  /** Reloads the model into `holder` (the same holder) while the server runs. */
  reloader?: ModelReloader | undefined;
  /** Wraps the IrisService handlers (tests). */
  decorateService?: (service: IrisServiceServer) => IrisServiceServer;
}

/** Every limit of the server (see ../config.ts for each). */
export interface ServerLimits extends GrpcLimits {
  maxConcurrentCalls: number;
  maxInflightBytes: number;
  httpKeepAliveTimeoutMs: number;
}

/** The configuration's defaults of every limit. */
function limitsOf(given: Partial<ServerLimits> = {}): ServerLimits {
  const d = DEFAULTS;
  return {
    maxConnections: given.maxConnections ?? d.maxConnections,
    maxConcurrentStreams: given.maxConcurrentStreams ?? d.maxConcurrentStreams,
    maxUnreadBytesPerConnection: given.maxUnreadBytesPerConnection ?? d.maxUnreadBytesPerConnection,
    maxUnreadBytes: given.maxUnreadBytes ?? d.maxUnreadBytes,
    requestTimeoutMs: given.requestTimeoutMs ?? d.requestTimeoutMs,
    idleTimeoutMs: given.idleTimeoutMs ?? d.idleTimeoutMs,
    keepaliveTimeMs: given.keepaliveTimeMs ?? d.keepaliveTimeMs,
    keepaliveTimeoutMs: given.keepaliveTimeoutMs ?? d.keepaliveTimeoutMs,
    maxConcurrentCalls: given.maxConcurrentCalls ?? d.maxConcurrentCalls,
    maxInflightBytes: given.maxInflightBytes ?? d.maxInflightBytes,
    httpKeepAliveTimeoutMs: given.httpKeepAliveTimeoutMs ?? d.httpKeepAliveTimeoutMs,
  };
}

export interface ShutdownResult {
  /** True when the grace period ran out and remaining calls were cut off. */
  forced: boolean;
}

export interface IrisServer {
  readonly host: string;
  /** The bound gRPC port (the real one when 0 was asked for). */
  readonly port: number;
  /** `host:port` of the gRPC port, as clients dial it (IPv6 hosts in brackets). */
  readonly address: string;
  /** The bound HTTP port; undefined without an HTTP server. */
  readonly httpPort: number | undefined;
  readonly readiness: Readiness;
  readonly health: HealthReporter;
  readonly grpc: GrpcServer;
  readonly http: HttpServer | undefined;
  /** The limits in force, the calls in progress and the request bytes in progress. */
  readonly limits: ServerLimits;
  readonly shedder: LoadShedder;
  readonly inflight: InflightBytes;
  /** This server's metrics; undefined with `metrics: false`. */
  readonly metrics: ServerMetrics | undefined;
  /** Graceful stop; every call returns the same promise. */
  shutdown(graceMs: number): Promise<ShutdownResult>;
  /**
   * Stops now: calls still running are cut off. Ends a graceful shutdown in
   * progress early (its promise then resolves with `forced: true`), or
   * starts one with no grace period.
   */
  forceShutdown(): Promise<ShutdownResult>;
}

const DEFAULT_MAX_CONNECTION_AGE_GRACE_MS = 10_000;

export async function startIrisServer(options: IrisServerOptions): Promise<IrisServer> {
  const { host, holder, logger, reloader } = options;
  holdTickObject();
  if (reloader !== undefined && reloader.holder !== holder) throw new Error("startIrisServer: the reloader must reload into the server's holder");
  const readiness = new Readiness(holder);
  const serverVersion = options.serverVersion ?? "0.0.0";
  const limits = limitsOf(options.limits);
  const inflight = new InflightBytes(limits.maxInflightBytes);
  const shedder = new LoadShedder(limits.maxConcurrentCalls, inflight);
  const metrics = options.metrics === false ? undefined : new ServerMetrics(holder);
  // Metrics first: they count the calls a later stage refuses (authentication, the shedder).
  const stages = [...(metrics ? [metrics.stage] : []), ...(options.stages ?? []), ...(options.auth ? [options.auth] : []), shedder];
  const recorder = metrics ?? NO_RECORDER;
  const grpc = await startGrpcServer({
    host,
    port: options.port,
    readiness,
    logger,
    modelName: options.modelName,
    serverVersion,
    maxBatchRows: options.maxBatchRows,
    maxReceiveBytes: options.maxReceiveBytes,
    maxConnectionAgeMs: options.maxConnectionAgeMs ?? 0,
    maxConnectionAgeGraceMs: options.maxConnectionAgeGraceMs ?? DEFAULT_MAX_CONNECTION_AGE_GRACE_MS,
    credentials: options.tls?.credentials,
    clientTls: options.tls?.pem.clientCa !== undefined ? options.tls.pem : undefined,
    limits,
    inflight,
    stages,
    recorder,
    decorateService: options.decorateService,
  });
  let http: HttpServer | undefined;
  if (options.httpPort !== undefined) {
    try {
      // Loaded only when there is an HTTP port (fastify and its schemas are most of the start-up time).
      const { startHttpServer } = await import("./http/server.js");
      http = await startHttpServer({
        host,
        port: options.httpPort,
        readiness,
        logger,
        modelName: options.modelName,
        serverVersion,
        maxBatchRows: options.maxBatchRows,
        maxBodyBytes: options.maxReceiveBytes,
        limits,
        inflight,
        stages,
        recorder,
        metrics,
        tls: options.tls?.pem,
        grpcPort: grpc.port,
      });
    } catch (err) {
      grpc.forceClose();
      throw err;
    }
  }

  if (reloader !== undefined) {
    if (metrics !== undefined) reloader.onReload((result) => metrics.reloaded(result));
    reloader.start();
  }

  let shutdownPromise: Promise<ShutdownResult> | undefined;
  const shutdown = (graceMs: number): Promise<ShutdownResult> => {
    shutdownPromise ??= (async () => {
      reloader?.stop();
      readiness.drain();
      const forced = await Promise.all([grpc.close(graceMs), http?.close(graceMs) ?? false]);
      return { forced: forced.some(Boolean) };
    })();
    return shutdownPromise;
  };
  const forceShutdown = (): Promise<ShutdownResult> => {
    const stopped = shutdown(0);
    grpc.forceClose();
    http?.forceClose();
    return stopped;
  };

  return {
    host,
    port: grpc.port,
    address: formatAddress(host, grpc.port),
    httpPort: http?.port,
    readiness,
    health: grpc.health,
    grpc,
    http,
    limits,
    shedder,
    inflight,
    metrics,
    shutdown,
    forceShutdown,
  };
}

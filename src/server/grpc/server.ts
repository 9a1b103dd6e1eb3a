/**
 * The gRPC transport: iris.v1.IrisService, inference.GRPCInferenceService
 * (the Open Inference Protocol), grpc.health.v1 and reflection on one
 * grpc-js Server.
 *
 * startGrpcServer resolves only once the port is bound and the services are
 * registered, and rejects (with nothing left listening) when binding fails.
 * close() is the graceful stop: health is already NOT_SERVING (the caller
 * drained readiness), the listener closes and connections get GOAWAY so no
 * new call is accepted, calls in flight may finish within the grace period,
 * then whatever is left is cut off and every socket still open destroyed.
 *
 * The port's connections are accepted by ./connections.ts (connection
 * limit, unread answers, lingering sockets) and each call passes through
 * one interceptor, ./calls.ts: its request bytes and time and its answer
 * bytes (./flow.ts), and the per-call stages; HTTP/2 itself is bounded by
 * the options of grpcLimitOptions.
 */
import { format } from "node:util";
import { Server, ServerCredentials, setLogger as setGrpcLogger, type ServerOptions } from "@grpc/grpc-js";
import { Code, IrisError } from "../../errors.js";
import { GRPCInferenceServiceService } from "../../gen/inference/open_inference_grpc.js";
import type { IrisServiceServer } from "../../gen/iris.js";
import type { Logger } from "../../logger.js";
import type { Readiness } from "../readiness.js";
import type { CallStage } from "../calls.js";
import type { InflightBytes } from "../limits.js";
import { GrpcConnections } from "./connections.js";
import type { PredictionRecorder } from "../metrics/recorder.js";
import { callInterceptor, declareMethods } from "./calls.js";
import { guardedRegistry } from "./codec.js";
import { HealthReporter } from "./health.js";
import { createInferenceService } from "./inference-service.js";
import { createIrisService, irisServiceDefinition, type IrisHandlers } from "./iris-service.js";
import { addReflection } from "./reflection.js";

export interface GrpcServerOptions {
  host: string;
  /** 0 picks a free port; GrpcServer.port tells which. */
  port: number;
  readiness: Readiness;
  logger: Logger;
  /** The model's name in the Open Inference Protocol; the artifact's name when absent. */
  modelName: string | undefined;
  /** The server's version, for the protocol's ServerMetadata. */
  serverVersion: string;
  maxBatchRows: number;
  /** grpc.max_receive_message_length: larger requests get RESOURCE_EXHAUSTED. */
  maxReceiveBytes: number;
  /**
   * Connections older than this (grpc-js adds ±10 % jitter) are sent GOAWAY,
   * so that clients reconnect and re-resolve the server's name; 0: never.
   */
  maxConnectionAgeMs: number;
  /**
   * After such a GOAWAY, how long calls still open on the old connection
   * (including health Watch streams, which never end on their own) may run
   * before it is closed.
   */
  maxConnectionAgeGraceMs: number;
  /** Transport security; plaintext (insecure) when absent. */
  credentials: ServerCredentials | undefined;
  /**
   * TLS that asks for client certificates (mutual TLS): done by the port's
   * own connections (./connections.ts) instead of `credentials`.
   */
  clientTls?: { cert: Buffer; key: Buffer; clientCa?: Buffer | undefined } | undefined;
  /** Connection and call limits (see GrpcLimits). */
  limits: GrpcLimits;
  /** Request bytes in progress, process-wide (shared with the HTTP port). */
  inflight: InflightBytes;
  /** The per-call stages (see ../calls.ts), run for every call on the port. */
  stages: readonly CallStage[];
  /** Hears every prediction (metrics). */
  recorder: PredictionRecorder;
  /**
   * Wraps the IrisService handlers before they are registered, e.g. to
   * observe or hold calls in tests. The identity when absent.
   */
  decorateService?: ((service: IrisServiceServer) => IrisServiceServer) | undefined;
}

/** What bounds the gRPC port's connections and calls (see ../../config.ts for each). */
export interface GrpcLimits {
  maxConnections: number;
  maxConcurrentStreams: number;
  maxUnreadBytesPerConnection: number;
  maxUnreadBytes: number;
  requestTimeoutMs: number;
  /** 0: never. */
  idleTimeoutMs: number;
  /** 0: no pings. */
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
}

/**
 * nghttp2's own memory per connection (HPACK tables, frames, buffers), in
 * MB: node:http2 refuses new streams of a connection over it
 * (ENHANCE_YOUR_CALM, which clients report as RESOURCE_EXHAUSTED). grpc-js
 * turns the check off unless told; this is room enough for the largest
 * answers, far below what the process can hold.
 */
const SESSION_MEMORY_MB = 64;

/** The grpc-js server options that bound HTTP/2 connections. */
function grpcLimitOptions(limits: GrpcLimits): ServerOptions {
  const options: ServerOptions = {
    "grpc.max_concurrent_streams": limits.maxConcurrentStreams,
    "grpc-node.max_session_memory": SESSION_MEMORY_MB,
  };
  if (limits.keepaliveTimeMs > 0) {
    options["grpc.keepalive_time_ms"] = limits.keepaliveTimeMs;
    options["grpc.keepalive_timeout_ms"] = limits.keepaliveTimeoutMs;
  }
  return options;
}

export interface GrpcServer {
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;
  readonly health: HealthReporter;
  readonly server: Server;
  /** The port's open connections. */
  readonly connections: GrpcConnections;
  /**
   * Graceful stop within `graceMs`; resolves `true` when calls still
   * running had to be cut off. Every call returns the same promise.
   */
  close(graceMs: number): Promise<boolean>;
  /** Cuts off whatever is left now (ends a graceful close early). */
  forceClose(): void;
}

/**
 * Sends grpc-js's own diagnostics (otherwise bare lines on stderr) into the
 * JSON log at debug level: everything a caller or operator must know is
 * already reported by this server as a status or a log line of its own.
 * Process-wide; the serve command calls it once.
 */
export function routeGrpcLogs(logger: Logger): void {
  const write = (...args: unknown[]): void => {
    // Formatting costs more than the level check; skip it when debug is off.
    if (logger.isLevelEnabled("debug")) logger.debug({ component: "grpc-js" }, format(...args));
  };
  setGrpcLogger({ error: write, info: write, debug: write });
}

/** `host:port`, with an IPv6 host in brackets. */
export function formatAddress(host: string, port: number): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Why listening on an address failed, in words. */
export function listenError(address: string, err: unknown): IrisError {
  const reason = (err as Error).message;
  const why = /EADDRINUSE/.test(reason)
    ? "the address is already in use"
    : /EACCES/.test(reason)
      ? "permission denied"
      : /EADDRNOTAVAIL|ENOTFOUND|EAI_AGAIN/.test(reason)
        ? "the host is not an address of this machine"
        : reason;
  return new IrisError(Code.UNAVAILABLE, `cannot listen on ${address}: ${why}`, { cause: err });
}

/**
 * The handlers wrapped by `decorateService`, when given. Decorators see the
 * generated IrisServiceServer type; they pass calls through to the handlers
 * they wrap (BatchPredict's then carry the wire codec's forms, which a
 * decorator has no need to look into).
 */
function decorate(iris: IrisHandlers, decorateService: GrpcServerOptions["decorateService"]): IrisHandlers {
  if (decorateService === undefined) return iris;
  return decorateService(iris as unknown as IrisServiceServer) as unknown as IrisHandlers;
}

export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServer> {
  const { host, readiness, logger } = options;
  const grpcOptions: ServerOptions = {
    ...grpcLimitOptions(options.limits),
    "grpc.max_receive_message_length": options.maxReceiveBytes,
    // Channelz (grpc-js's own per-call and per-socket statistics) is not
    // served here; keeping it costs every call a little bookkeeping.
    "grpc.enable_channelz": 0,
    // Filled below, once the connections exist.
    interceptors: [],
  };
  if (options.maxConnectionAgeMs > 0) {
    grpcOptions["grpc.max_connection_age_ms"] = options.maxConnectionAgeMs;
    grpcOptions["grpc.max_connection_age_grace_ms"] = options.maxConnectionAgeGraceMs;
  }
  const server = new Server(grpcOptions);
  const connections =
    options.clientTls !== undefined
      ? new GrpcConnections(server, ServerCredentials.createInsecure(), options.limits, logger, options.clientTls)
      : new GrpcConnections(server, options.credentials ?? ServerCredentials.createInsecure(), options.limits, logger);
  grpcOptions.interceptors!.push(
    callInterceptor({
      stages: [...options.stages, connections.stage],
      inflight: options.inflight,
      connections,
      maxReceiveBytes: options.maxReceiveBytes,
      requestTimeoutMs: options.limits.requestTimeoutMs,
      logger,
    }),
  );
  const health = new HealthReporter();
  const guarded = guardedRegistry(server, logger);
  // Every method of every service is declared to the stages before the port listens.
  const registry: Pick<Server, "addService"> = {
    addService: (definition, implementation) => {
      declareMethods(options.stages, definition);
      guarded.addService(definition, implementation);
    },
  };
  const iris = createIrisService({ readiness, maxBatchRows: options.maxBatchRows, logger, recorder: options.recorder });
  registry.addService(irisServiceDefinition(), decorate(iris, options.decorateService));
  registry.addService(GRPCInferenceServiceService, createInferenceService({ ...options, readiness, logger }));
  health.addToServer(registry);
  addReflection(registry, logger);

  const address = formatAddress(host, options.port);
  let port: number;
  try {
    port = await connections.listen(host, options.port);
  } catch (err) {
    server.forceShutdown();
    connections.dispose();
    throw listenError(address, err);
  }

  health.setServing(readiness.ready);
  const unsubscribe = readiness.onChange((ready) => health.setServing(ready));

  let closing: Promise<boolean> | undefined;
  // Ends the close in progress by cutting off what is left; set by close().
  let cutOff: (() => void) | undefined;
  const close = (graceMs: number): Promise<boolean> => {
    closing ??= new Promise<boolean>((resolve) => {
      unsubscribe();
      health.close();
      let done = false;
      // Only ever called after `timer` below is set.
      const finish = (forced: boolean): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (forced) server.forceShutdown();
        // Sockets whose client does not read would otherwise keep the process alive.
        connections.destroyAll();
        connections.dispose();
        resolve(forced);
      };
      const timer = setTimeout(() => finish(true), graceMs);
      cutOff = () => finish(true);
      connections.stopListening();
      // Called once every connection has closed, including after forceShutdown.
      server.tryShutdown(() => finish(false));
    });
    return closing;
  };
  const forceClose = (): void => {
    void close(0);
    cutOff?.();
  };

  return { port, health, server, connections, close, forceClose };
}

/**
 * The gRPC server: IrisService, health and reflection on one grpc-js Server.
 *
 * startIrisServer resolves only once the port is bound and the services are
 * registered, and rejects (with nothing left listening) when binding fails.
 * shutdown() is the graceful stop: health goes NOT_SERVING, the listeners
 * close and connections get GOAWAY so no new call is accepted, calls in
 * flight may finish within the grace period, then whatever is left is cut
 * off.
 */
import { format } from "node:util";
import { Server, ServerCredentials, setLogger as setGrpcLogger, type ServerOptions } from "@grpc/grpc-js";
import { Code, IrisError } from "../errors.js";
import { IrisServiceService, type IrisServiceServer } from "../gen/iris.js";
import type { Logger } from "../logger.js";
import { guardedRegistry } from "./codec.js";
import { HealthReporter } from "./health.js";
import { createIrisService } from "./iris-service.js";
import type { ModelHolder } from "./model-holder.js";
import { addReflection } from "./reflection.js";

export interface IrisServerOptions {
  host: string;
  /** 0 picks a free port; IrisServer.port tells which. */
  port: number;
  holder: ModelHolder;
  logger: Logger;
  maxBatchRows: number;
  /** grpc.max_receive_message_length: larger requests get RESOURCE_EXHAUSTED. */
  maxReceiveBytes: number;
  /**
   * Connections older than this (grpc-js adds ±10 % jitter) are sent GOAWAY,
   * so that clients reconnect and re-resolve the server's name; 0 or absent:
   * never.
   */
  maxConnectionAgeMs?: number;
  /**
   * After such a GOAWAY, how long calls still open on the old connection
   * (including health Watch streams, which never end on their own) may run
   * before it is closed. Default DEFAULT_MAX_CONNECTION_AGE_GRACE_MS.
   */
  maxConnectionAgeGraceMs?: number;
  /** Transport security; plaintext (insecure) when absent. */
  credentials?: ServerCredentials;
  /**
   * Wraps the service handlers before they are registered, e.g. to observe
   * or hold calls in tests. The identity when absent.
   */
  decorateService?: (service: IrisServiceServer) => IrisServiceServer;
}

export interface ShutdownResult {
  /** True when the grace period ran out and remaining calls were cut off. */
  forced: boolean;
}

export interface IrisServer {
  readonly host: string;
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;
  /** `host:port` as clients dial it (IPv6 hosts in brackets). */
  readonly address: string;
  readonly health: HealthReporter;
  readonly grpcServer: Server;
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

/**
 * Sends grpc-js's own diagnostics (otherwise bare lines on stderr) into the
 * JSON log at debug level: everything a caller or operator must know is
 * already reported by this module as a status or a log line of its own.
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
function formatAddress(host: string, port: number): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}

function bind(server: Server, address: string, credentials: ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (err, port) => (err ? reject(err) : resolve(port)));
  });
}

export async function startIrisServer(options: IrisServerOptions): Promise<IrisServer> {
  const { host, holder, logger } = options;
  const grpcOptions: ServerOptions = { "grpc.max_receive_message_length": options.maxReceiveBytes };
  if (options.maxConnectionAgeMs !== undefined && options.maxConnectionAgeMs > 0) {
    grpcOptions["grpc.max_connection_age_ms"] = options.maxConnectionAgeMs;
    grpcOptions["grpc.max_connection_age_grace_ms"] =
      options.maxConnectionAgeGraceMs ?? DEFAULT_MAX_CONNECTION_AGE_GRACE_MS;
  }
  const server = new Server(grpcOptions);
  const health = new HealthReporter();
  const service = createIrisService({ holder, maxBatchRows: options.maxBatchRows, logger });
  const registry = guardedRegistry(server, logger);
  registry.addService(IrisServiceService, options.decorateService ? options.decorateService(service) : service);
  health.addToServer(registry);
  addReflection(registry);

  let port: number;
  try {
    port = await bind(server, formatAddress(host, options.port), options.credentials ?? ServerCredentials.createInsecure());
  } catch (err) {
    server.forceShutdown();
    const reason = (err as Error).message;
    const why = /EADDRINUSE/.test(reason)
      ? "the address is already in use"
      : /EACCES/.test(reason)
        ? "permission denied"
        : /EADDRNOTAVAIL|ENOTFOUND|EAI_AGAIN/.test(reason)
          ? "the host is not an address of this machine"
          : reason;
    throw new IrisError(Code.UNAVAILABLE, `cannot listen on ${formatAddress(host, options.port)}: ${why}`, {
      cause: err,
    });
  }

  let stopping = false;
  const unsubscribe = holder.onChange((current) => health.setServing(current !== undefined && !stopping));
  health.setServing(holder.current !== undefined);

  let shutdownPromise: Promise<ShutdownResult> | undefined;
  // Ends the shutdown in progress by cutting off what is left; set by shutdown().
  let cutOff: (() => void) | undefined;
  const shutdown = (graceMs: number): Promise<ShutdownResult> => {
    shutdownPromise ??= new Promise<ShutdownResult>((resolve) => {
      stopping = true;
      unsubscribe();
      health.close();
      let done = false;
      // Only ever called after `timer` below is set.
      const finish = (forced: boolean): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (forced) server.forceShutdown();
        resolve({ forced });
      };
      const timer = setTimeout(() => finish(true), graceMs);
      cutOff = () => finish(true);
      // Called once every connection has closed, including after forceShutdown.
      server.tryShutdown(() => finish(false));
    });
    return shutdownPromise;
  };
  const forceShutdown = (): Promise<ShutdownResult> => {
    const stopped = shutdown(0);
    cutOff?.();
    return stopped;
  };

  return { host, port, address: formatAddress(host, port), health, grpcServer: server, shutdown, forceShutdown };
}

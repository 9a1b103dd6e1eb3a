/**
 * The HTTP port's bounds, beside the body limit (fastify's `bodyLimit`, the
 * receive limit) and the process-wide stages (authentication, the load
 * shedder) that every request passes:
 *
 * - connections: at most `maxConnections` open at once (further ones are
 *   closed at once by node:http); one silent for `requestTimeoutMs` (a
 *   client that sends nothing, or reads nothing of its answer) is
 *   destroyed; a keep-alive connection idle between requests for
 *   `httpKeepAliveTimeoutMs` is closed;
 * - slow requests (slowloris): the headers must arrive within
 *   HEADERS_TIMEOUT_MS (or the request timeout, if shorter) and the whole
 *   request within `requestTimeoutMs`, else node:http answers 408 and
 *   closes the connection;
 * - headers: at most MAX_HEADER_BYTES (URL included; node:http answers 431
 *   beyond) and MAX_HEADERS of them; URL parameters at most
 *   MAX_PARAM_LENGTH characters (longer ones match no route, 404); at most
 *   MAX_QUERY_PARAMETERS query parameters (400 beyond);
 * - request bytes: a body's bytes reserve their place in the process-wide
 *   InflightBytes as they arrive, shared with the gRPC port; a body that
 *   does not fit is answered 503 with Retry-After before it is parsed.
 */
import { Transform } from "node:stream";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Code, IrisError } from "../../errors.js";
import type { InflightBytes } from "../limits.js";

/** Largest request head (request line and headers), in bytes. */
const MAX_HEADER_BYTES = 16 * 1024;
/** Most request headers; further ones are dropped by node:http. */
const MAX_HEADERS = 100;
/** Longest URL path parameter (a model name is at most 253 characters). */
const MAX_PARAM_LENGTH = 256;
/** Most query parameters (no route takes any). */
const MAX_QUERY_PARAMETERS = 32;
/** Longest time for a request's headers to arrive (unless the request timeout is shorter). */
const HEADERS_TIMEOUT_MS = 10_000;
/** How often node:http checks connections for the header and request timeouts. */
const CONNECTIONS_CHECKING_INTERVAL_MS = 1_000;

export interface HttpLimits {
  maxConnections: number;
  requestTimeoutMs: number;
  httpKeepAliveTimeoutMs: number;
}

/** The node:http server options (for HTTP, or merged into the HTTPS options). */
export function nodeServerOptions(limits: HttpLimits) {
  return {
    maxHeaderSize: MAX_HEADER_BYTES,
    headersTimeout: Math.min(HEADERS_TIMEOUT_MS, limits.requestTimeoutMs),
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.httpKeepAliveTimeoutMs,
    connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
  };
}

/** The fastify options that carry the limits (fastify sets them on the server it makes). */
export function fastifyLimitOptions(limits: HttpLimits) {
  return {
    // Socket inactivity: nothing read from or written to the client for this long.
    connectionTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.httpKeepAliveTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
  };
}

/** Query parameters in a URL (`a=1&b=2` has 2). */
function queryParameters(url: string): number {
  const at = url.indexOf("?");
  if (at === -1 || at === url.length - 1) return 0;
  let count = 1;
  for (let i = at + 1; i < url.length; i++) if (url.charCodeAt(i) === 38 /* & */) count++;
  return count;
}

/** Installs the limits that are not server options: connections, headers count, query parameters, request bytes. */
export function registerLimits(app: FastifyInstance, limits: HttpLimits, inflight: InflightBytes): void {
  app.server.maxConnections = limits.maxConnections;
  app.server.maxHeadersCount = MAX_HEADERS;

  app.addHook("onRequest", (request, _reply, done) => {
    const count = queryParameters(request.url);
    if (count > MAX_QUERY_PARAMETERS) {
      done(new IrisError(Code.INVALID_ARGUMENT, `the URL has ${count} query parameters; at most ${MAX_QUERY_PARAMETERS} are accepted`));
      return;
    }
    done();
  });

  const reserved = new WeakMap<FastifyRequest, { bytes: number }>();
  const release = (request: FastifyRequest): void => {
    const held = reserved.get(request);
    if (held === undefined) return;
    reserved.delete(request);
    inflight.release(held.bytes);
  };
  app.addHook("preParsing", (request, _reply, payload, done) => {
    const held = { bytes: 0 };
    reserved.set(request, held);
    request.raw.once("close", () => release(request));
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        if (!inflight.tryReserve(chunk.length)) {
          callback(inflight.refusal());
          return;
        }
        held.bytes += chunk.length;
        callback(null, chunk);
      },
    });
    payload.on("error", (err) => counted.destroy(err));
    done(null, payload.pipe(counted));
  });
  app.addHook("onResponse", (request, _reply, done) => {
    release(request);
    done();
  });
}

/**
 * The HTTP transport, on fastify: the original `POST /predict`, the Open
 * Inference Protocol's REST binding, and the OpenAPI document of both
 * (`/openapi.json`, interactive at `/docs`, served from the package, no
 * CDN). fastify because it validates requests with JSON Schema (the same
 * TypeBox schemas produce the OpenAPI document, so it cannot drift) and
 * has the close semantics a graceful drain needs.
 *
 * With metrics on, `GET /metrics` serves them (./metrics-route.ts).
 *
 * Every body is read as bytes and parsed here, whatever its Content-Type:
 * a JSON body sent without `-H "Content-Type: application/json"` (what
 * `curl -d` does) is still read, and a body using the binary tensor data
 * extension (`Inference-Header-Content-Length`) is split into its JSON
 * object and its binary part. A body over the limit is answered 413.
 *
 * `/` is the web console (./console/): the model card, a try-it form, batch
 * predictions from a CSV file and live traffic, for people.
 */
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from "fastify";
import secureJson from "secure-json-parse";
import { Code, IrisError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { Readiness } from "../readiness.js";
import { formatAddress, listenError } from "../grpc/server.js";
import { INFERENCE_HEADER, splitBody } from "./binary.js";
import type { CallStage } from "../calls.js";
import type { InflightBytes } from "../limits.js";
import type { PredictionRecorder } from "../metrics/recorder.js";
import type { ServerMetrics } from "../metrics/server-metrics.js";
import { registerCalls } from "./calls.js";
import { emptyBody, errorHandler } from "./errors.js";
import { consoleRoutes } from "./console/routes.js";
import { ANSWERED_WHILE_DRAINING, BINARY_ROUTES, inferenceRoutes } from "./inference-routes.js";
import { fastifyLimitOptions, nodeServerOptions, registerLimits, type HttpLimits } from "./limits.js";
import { METRICS_ROUTE, metricsRoute } from "./metrics-route.js";
import { predictRoute } from "./predict-route.js";
import { ErrorBody } from "./schemas.js";

/** The fastify instance with TypeBox-typed routes. */
export type HttpApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port; HttpServer.port tells which. */
  port: number;
  readiness: Readiness;
  logger: Logger;
  /** The model's name in the Open Inference Protocol; the artifact's name when absent. */
  modelName: string | undefined;
  serverVersion: string;
  maxBatchRows: number;
  /** Largest request body, in bytes; larger ones get 413. */
  maxBodyBytes: number;
  /** Connection, header and time limits (./limits.ts). */
  limits: HttpLimits;
  /** Request bytes in progress, process-wide (shared with the gRPC port). */
  inflight: InflightBytes;
  /** The per-call stages (see ../calls.ts), run for every request on the port. */
  stages: readonly CallStage[];
  /** Hears every prediction (metrics). */
  recorder: PredictionRecorder;
  /** Served at `GET /metrics`; no such route when absent. */
  metrics: ServerMetrics | undefined;
  /** HTTPS with this PEM certificate chain and key; plain HTTP when absent. */
  tls: { cert: Buffer; key: Buffer; clientCa?: Buffer | undefined } | undefined;
  /** The gRPC port, as the web console's snippets give it (50051 when absent). */
  grpcPort?: number | undefined;
}

export interface HttpServer {
  readonly port: number;
  readonly app: FastifyInstance;
  /** Graceful stop within `graceMs`; resolves `true` when requests still running had to be cut off. */
  close(graceMs: number): Promise<boolean>;
  /** Cuts off every connection now. */
  forceClose(): void;
}

/** The binary parts of bodies that used the binary extension, by their parsed JSON object. */
const binaryParts = new WeakMap<object, Buffer>();

function parseJson(bytes: Buffer): unknown {
  if (bytes.length === 0) throw emptyBody();
  try {
    return secureJson.parse(bytes.toString("utf8"), undefined, { protoAction: "remove", constructorAction: "remove" });
  } catch (err) {
    const description = `is not valid JSON: ${(err as Error).message}`;
    throw new IrisError(Code.INVALID_ARGUMENT, `body ${description}`, { cause: err, violations: [{ field: "body", description }] });
  }
}

function parseBody(request: FastifyRequest, body: Buffer, done: (err: Error | null, body?: unknown) => void): void {
  try {
    const header = request.headers[INFERENCE_HEADER];
    if (typeof header !== "string") return done(null, parseJson(body));
    // Elsewhere the bytes after the JSON would be silently dropped.
    if (!BINARY_ROUTES.has(request.routeOptions.url ?? "")) {
      throw new IrisError(
        Code.INVALID_ARGUMENT,
        `the ${INFERENCE_HEADER} header (binary tensor data) is for the inference routes (/v2/models/{name}/infer); send ${request.routeOptions.url ?? "this route"} a JSON body without it`,
      );
    }
    const { json, binary } = splitBody(body, header);
    const parsed = parseJson(json);
    if (typeof parsed === "object" && parsed !== null) binaryParts.set(parsed, binary);
    done(null, parsed);
  } catch (err) {
    done(err as Error);
  }
}

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const { logger, maxBodyBytes, readiness } = options;
  const fastify = Fastify({
    logger: false,
    bodyLimit: maxBodyBytes,
    ...fastifyLimitOptions(options.limits),
    http: nodeServerOptions(options.limits),
    // Requests arriving while the server stops are answered by the
    // onRequest hook below, in this port's own forms (fastify's would be
    // {"error": "Service Unavailable", "statusCode": 503, ...}, even for
    // /v2/health/ready).
    return503OnClosing: false,
    ajv: {
      // Validate exactly what was sent: no type coercion, no defaults, no
      // silently removed fields; report every problem, with its value.
      customOptions: { coerceTypes: false, useDefaults: false, removeAdditional: false, allErrors: true, verbose: true },
    },
    ...(options.tls
      ? {
          https: {
            ...nodeServerOptions(options.limits),
            cert: options.tls.cert,
            key: options.tls.key,
            // Mutual TLS: ask for a client certificate, let probes without one through (../auth.ts refuses the rest).
            ...(options.tls.clientCa !== undefined ? { ca: options.tls.clientCa, requestCert: true, rejectUnauthorized: false } : {}),
          },
        }
      : {}),
  });
  const app: HttpApp = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.setErrorHandler(errorHandler(logger, maxBodyBytes));
  registerCalls(app, options.stages);
  // After registerCalls: a request refused by a limit is still a call the stages see end.
  registerLimits(app, options.limits, options.inflight);
  // From the moment the server starts stopping, every answer closes its
  // connection, so that clients reconnect (to another instance: this one no
  // longer listens) instead of sending more on a kept-alive one, and a
  // request that still arrives on an open connection is answered 503,
  // except by the routes that report health: they answer for themselves
  // (live 200, ready 503 {"ready": false}), and /metrics.
  // Callback hooks, not async ones: every request passes them, and an async
  // hook costs each a promise and a tick.
  app.addHook("onRequest", (request, reply, done) => {
    if (!readiness.draining) return done();
    void reply.header("connection", "close");
    const route = request.routeOptions.url ?? "";
    if (!ANSWERED_WHILE_DRAINING.has(route) && route !== METRICS_ROUTE) {
      return done(new IrisError(Code.UNAVAILABLE, "the server is shutting down; retry the request on another instance"));
    }
    done();
  });
  app.addHook("onSend", (_request, reply, payload, done) => {
    if (readiness.draining) void reply.header("connection", "close");
    done(null, payload);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: `no route ${request.method} ${request.url.split("?")[0]}; see /docs` }),
  );
  // Response schemas document the answers; JSON.stringify writes them exactly.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, parseBody);
  app.addSchema(ErrorBody);

  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "iris-serve HTTP API",
        description:
          "The Iris classifier over HTTP: the original POST /predict, and the Open Inference Protocol (KServe V2) REST binding. " +
          "Errors answer {\"error\": \"...\"} with the offending fields in `violations` when the request was invalid. " +
          "The [web console](/) shows the model card, lets you try the model and shows live traffic.",
        version: options.serverVersion,
      },
      tags: [
        { name: "predict", description: "The original project's route" },
        { name: "open inference protocol", description: "KServe V2 / Open Inference Protocol, REST binding" },
        ...(options.metrics ? [{ name: "operations", description: "Monitoring" }] : []),
      ],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });

  predictRoute(app, options);
  inferenceRoutes(app, { ...options, binaryPart: (body) => binaryParts.get(body) });
  if (options.metrics) metricsRoute(app, options.metrics);
  await consoleRoutes(app, options);
  app.get("/openapi.json", { schema: { hide: true } }, () => app.swagger());

  let port: number;
  try {
    await app.listen({ host: options.host, port: options.port });
    port = (app.server.address() as { port: number }).port;
  } catch (err) {
    await app.close().catch(() => undefined);
    throw listenError(formatAddress(options.host, options.port), err);
  }

  let closing: Promise<boolean> | undefined;
  let cutOff: (() => void) | undefined;
  const close = (graceMs: number): Promise<boolean> => {
    closing ??= new Promise<boolean>((resolve) => {
      let done = false;
      const finish = (forced: boolean): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (forced) app.server.closeAllConnections();
        resolve(forced);
      };
      const timer = setTimeout(() => finish(true), graceMs);
      cutOff = () => finish(true);
      // Stops listening, closes idle connections, lets requests in flight finish.
      app.close().then(
        () => finish(false),
        (err: unknown) => {
          logger.warn({ err }, "HTTP server did not close cleanly");
          finish(true);
        },
      );
    });
    return closing;
  };
  const forceClose = (): void => {
    void close(0);
    cutOff?.();
  };
  return { port, app, close, forceClose };
}


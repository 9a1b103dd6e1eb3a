/**
 * The web console on the HTTP port: the page at `/` (the model card, Try
 * it, Batch, Live; see ./page.ts and src/console/), its assets under
 * `/console/` and `/console/model.json`, which the page polls to notice a
 * model swap. Every answer here carries a strict Content-Security-Policy
 * (scripts, styles, images and connections from this origin only; no
 * inline script or style, no framing, no form posts) and the page is
 * revalidated on every load (ETag) while the assets, whose names carry a
 * hash of their content, are cached for a year. None of these routes is in
 * the OpenAPI document: they are for people, not programs.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "../../../logger.js";
import { DEFAULT_GRPC_PORT } from "../../../rpc/defaults.js";
import type { Readiness } from "../../readiness.js";
import type { HttpApp } from "../server.js";
import { ASSET_PREFIX, hashOf, loadConsoleAssets, type ConsoleAssets } from "./assets.js";
import { consoleData, consolePage, noModelPage, type PageContext } from "./page.js";

export interface ConsoleOptions {
  readiness: Readiness;
  logger: Logger;
  /** The model's name in the Open Inference Protocol; the artifact's name when absent. */
  modelName: string | undefined;
  /** The gRPC port the snippets dial; 50051 when absent. */
  grpcPort?: number | undefined;
  maxBatchRows: number;
  serverVersion: string;
}

/** The policy on every console answer. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** The page itself: revalidated on every load. */
const PAGE_CACHE = "no-cache";
/** Assets under hashed names: never change, kept a year. */
const ASSET_CACHE = "public, max-age=31536000, immutable";

/** The server's Prometheus metrics, which the Live panel reads when the port serves them. */
const METRICS = "/metrics";

/** The console's JSON: the model the page should show. */
const MODEL_JSON = `${ASSET_PREFIX}model.json`;

function send(request: FastifyRequest, reply: FastifyReply, body: string | Buffer, type: string, cache: string, etag: string): FastifyReply {
  void reply.header("cache-control", cache).header("etag", etag);
  if (request.headers["if-none-match"] === etag) return reply.code(304).send();
  return reply.type(type).send(body);
}

export async function consoleRoutes(app: HttpApp, options: ConsoleOptions): Promise<void> {
  const { readiness, logger } = options;
  let assets: Promise<ConsoleAssets> | undefined;
  const loadAssets = (): Promise<ConsoleAssets> => {
    assets ??= loadConsoleAssets().then(
      (loaded) => {
        if (loaded.script === undefined) logger.warn("the web console's script is not built (npm run build); the page shows the model card only");
        return loaded;
      },
      (err: unknown) => {
        assets = undefined;
        throw err;
      },
    );
    return assets;
  };
  const context = async (): Promise<PageContext> => {
    const served = readiness.holder.current;
    return {
      modelName: options.modelName ?? served?.model.artifact.name ?? "",
      grpcPort: options.grpcPort ?? DEFAULT_GRPC_PORT,
      maxBatchRows: options.maxBatchRows,
      serverVersion: options.serverVersion,
      metrics: app.hasRoute({ method: "GET", url: METRICS }),
      assets: await loadAssets(),
    };
  };

  await app.register(async (scope) => {
    scope.addHook("onSend", async (_request, reply, payload) => {
      void reply
        .header("content-security-policy", CONTENT_SECURITY_POLICY)
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header("cross-origin-opener-policy", "same-origin");
      return payload;
    });

    scope.get("/", { schema: { hide: true } }, async (request, reply) => {
      const served = readiness.holder.current;
      const ctx = await context();
      if (served === undefined) {
        return reply.code(503).header("cache-control", "no-store").type("text/html; charset=utf-8").send(noModelPage(ctx));
      }
      const html = consolePage(served, ctx);
      return send(request, reply, html, "text/html; charset=utf-8", PAGE_CACHE, `"${hashOf(html)}"`);
    });

    scope.get(MODEL_JSON, { schema: { hide: true } }, async (_request, reply) => {
      const served = readiness.served();
      return reply.header("cache-control", "no-store").send(consoleData(served, await context()));
    });

    scope.get(`${ASSET_PREFIX}:file`, { schema: { hide: true } }, async (request, reply) => {
      const asset = (await loadAssets()).byPath.get(request.url.split("?")[0]!);
      if (asset === undefined) {
        return reply.code(404).send({ error: `no console asset ${request.url.split("?")[0]}; the page names the current ones` });
      }
      return send(request, reply, asset.body, asset.type, ASSET_CACHE, asset.etag);
    });
  });
}

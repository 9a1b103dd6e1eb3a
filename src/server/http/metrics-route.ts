/**
 * `GET /metrics`: the server's Prometheus metrics (see
 * ../metrics/server-metrics.ts) in the Prometheus text format, for
 * Prometheus to scrape (deploy/monitoring has the PodMonitor). It answers
 * while the server stops too, so the last moments are scraped.
 */
import type { ServerMetrics } from "../metrics/server-metrics.js";
import type { HttpApp } from "./server.js";

export const METRICS_ROUTE = "/metrics";

export function metricsRoute(app: HttpApp, metrics: ServerMetrics): void {
  app.get(
    METRICS_ROUTE,
    {
      schema: {
        summary: "Prometheus metrics",
        description:
          "gRPC (go-grpc-prometheus names), HTTP (OpenTelemetry names), the model (iris_*) and the process, " +
          "in the Prometheus text format 0.0.4. See docs/operations.md.",
        tags: ["operations"],
        produces: ["text/plain"],
        response: {
          200: {
            description: "The metrics",
            content: { "text/plain": { schema: { type: "string", description: "Prometheus text format, version 0.0.4" } } },
          },
        },
      },
    },
    async (_request, reply) => reply.type(metrics.contentType).send(await metrics.exposition()),
  );
}

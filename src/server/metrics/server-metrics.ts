/**
 * The server's Prometheus metrics (`GET /metrics` on the HTTP port), one
 * set per server instance: nothing goes to prom-client's global registry,
 * so servers started side by side (tests) count apart.
 *
 * - gRPC, every service on the port, in go-grpc-prometheus's names and
 *   labels (what existing dashboards query): `grpc_server_started_total`,
 *   `grpc_server_handled_total` (with `grpc_code`: `OK`, `INVALID_ARGUMENT`,
 *   ...) and the `grpc_server_handling_seconds` histogram. Every registered
 *   method starts at 0 (started, handled OK, the histogram), so rates and
 *   ratios exist before the first call; other codes appear when they occur.
 * - HTTP, in OpenTelemetry's semantic-convention names:
 *   `http_server_request_duration_seconds` with `http_request_method`
 *   (`_OTHER` for a method outside RFC 9110's), `http_route` (the route as
 *   declared, `unmatched` when none matched: never the raw URL) and
 *   `http_response_status_code`.
 * - The model: `iris_model_info`, `iris_model_loaded_timestamp_seconds`,
 *   `iris_predictions_total{species}`, `iris_batch_rows`,
 *   `iris_input_out_of_range_total{feature}`, `iris_model_reloads_total{result}`.
 * - The process: prom-client's default metrics (CPU, memory, event loop
 *   lag, GC, handles), collected once per process and shown by every server.
 *
 * Per call, counting is a few plain increments (the stage below and the
 * PredictionRecorder methods); prom-client turns the totals into its
 * metrics only when /metrics is scraped (`collect`).
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import { Code, codeName } from "../../errors.js";
import type { IrisModel } from "../../model/index.js";
import type { CallMethod, CallStage } from "../calls.js";
import type { ModelHolder } from "../model-holder.js";
import type { ReloadResult } from "../model-reloader.js";
import { HistogramFamily, type HistogramSeries } from "./histogram.js";
import type { PredictionRecorder } from "./recorder.js";

/**
 * Call durations, in seconds, on both ports: 100 µs to 10 s. The server
 * answers Predict in tens of microseconds and a 100 000-row batch in tens
 * of milliseconds, so the usual buckets (from 5 ms: Prometheus's defaults,
 * OpenTelemetry's advice) would put nearly every call in the first one and
 * leave p50 and p99 unresolved; these resolve both ends, with one set for
 * gRPC and HTTP so that their panels compare.
 */
const DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Rows per prediction call: 1 (Predict) to 100 000 (the default batch limit), about ×2.5 apart. */
const ROWS_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000];

/** `http_route` of a request no route matched (a 404): one fixed value, whatever the URL. */
export const UNMATCHED_ROUTE = "unmatched";
/** RFC 9110's methods (and PATCH); any other is `_OTHER`, as OpenTelemetry says, so the label stays bounded. */
const HTTP_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]);
/** gRPC status codes 0..16 (anything else counts as UNKNOWN). */
const CODES = 17;

let processRegistry: Registry | undefined;

/** The process's own metrics (prom-client's defaults), collected once per process. */
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

interface GrpcSeries {
  readonly labels: { grpc_type: string; grpc_service: string; grpc_method: string };
  started: number;
  /** Calls handled, by status code. */
  readonly handled: Float64Array;
  readonly seconds: HistogramSeries;
}

export class ServerMetrics implements PredictionRecorder {
  readonly registry = new Registry();
  /** The Content-Type of the exposition (Prometheus text format 0.0.4). */
  readonly contentType: string = Registry.PROMETHEUS_CONTENT_TYPE;
  /** Counts every call on both ports; run it first, so it sees calls other stages refuse. */
  readonly stage: CallStage;

  readonly #grpc = new Map<string, Map<string, GrpcSeries>>();
  readonly #grpcSeconds: HistogramFamily<"grpc_type" | "grpc_service" | "grpc_method">;
  readonly #http = new Map<string, Map<string, Map<number, HistogramSeries>>>();
  readonly #httpSeconds: HistogramFamily<"http_request_method" | "http_route" | "http_response_status_code">;
  readonly #rows: HistogramSeries;
  readonly #species = new Map<string, number>();
  readonly #outOfRange = new Map<string, number>();
  readonly #reloads: Counter<"result">;
  #classCounts = new Float64Array(8);
  readonly #featureCounts = new Float64Array(32);

  constructor(holder: ModelHolder) {
    const registers = [this.registry];
    const grpc = this.#grpc;
    const each = function* (): Generator<GrpcSeries> {
      for (const methods of grpc.values()) yield* methods.values();
    };
    new Counter({
      name: "grpc_server_started_total",
      help: "Total number of RPCs started on the server.",
      labelNames: ["grpc_type", "grpc_service", "grpc_method"],
      registers,
      collect() {
        this.reset();
        for (const s of each()) this.inc(s.labels, s.started);
      },
    });
    new Counter({
      name: "grpc_server_handled_total",
      help: "Total number of RPCs completed on the server, regardless of success or failure.",
      labelNames: ["grpc_type", "grpc_service", "grpc_method", "grpc_code"],
      registers,
      collect() {
        this.reset();
        for (const s of each()) {
          for (let code = 0; code < CODES; code++) {
            if (s.handled[code]! > 0 || code === Code.OK) this.inc({ ...s.labels, grpc_code: codeName(code as Code) }, s.handled[code]!);
          }
        }
      },
    });
    this.#grpcSeconds = new HistogramFamily({
      name: "grpc_server_handling_seconds",
      help: "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
      buckets: DURATION_BUCKETS,
      registry: this.registry,
    });
    this.#httpSeconds = new HistogramFamily({
      name: "http_server_request_duration_seconds",
      help: "Duration of HTTP server requests.",
      buckets: DURATION_BUCKETS,
      registry: this.registry,
    });

    new Gauge({
      name: "iris_model_info",
      help: "The model being served (always 1; its identity is in the labels).",
      labelNames: ["name", "version", "format"],
      registers,
      collect() {
        this.reset();
        const served = holder.current;
        if (served !== undefined) {
          const { name, format } = served.model.artifact;
          this.set({ name, version: served.model.version, format }, 1);
        }
      },
    });
    new Gauge({
      name: "iris_model_loaded_timestamp_seconds",
      help: "When the model being served was loaded, in seconds since the Unix epoch (0 while none is).",
      registers,
      collect() {
        this.set((holder.current?.loadedAt.getTime() ?? 0) / 1000);
      },
    });
    const species = this.#species;
    new Counter({
      name: "iris_predictions_total",
      help: "Rows predicted, by predicted species, on every API.",
      labelNames: ["species"],
      registers,
      collect() {
        this.reset();
        for (const name of holder.current?.model.classes ?? []) if (!species.has(name)) species.set(name, 0);
        for (const [name, n] of species) this.inc({ species: name }, n);
      },
    });
    this.#rows = new HistogramFamily({
      name: "iris_batch_rows",
      help: "Rows per prediction call, on every API (Predict is 1).",
      buckets: ROWS_BUCKETS,
      registry: this.registry,
    }).series({});
    const outOfRange = this.#outOfRange;
    new Counter({
      name: "iris_input_out_of_range_total",
      help: "Measurements outside the range the model was trained on, by feature.",
      labelNames: ["feature"],
      registers,
      collect() {
        this.reset();
        for (const name of holder.current?.model.featureNames ?? []) if (!outOfRange.has(name)) outOfRange.set(name, 0);
        for (const [name, n] of outOfRange) this.inc({ feature: name }, n);
      },
    });
    this.#reloads = new Counter({
      name: "iris_model_reloads_total",
      help: "Model reloads (the model file changed, or SIGHUP), by result: success (swapped in) or failure (refused; the old model kept serving).",
      labelNames: ["result"],
      registers,
    });
    for (const result of ["success", "failure"] satisfies ReloadResult[]) this.#reloads.inc({ result }, 0);

    this.stage = {
      declare: (method) => {
        if (method.api === "grpc") this.#grpcSeries(method);
      },
      start: (call) => {
        if (call.api === "grpc") this.#grpcSeries(call).started++;
      },
      end: (call, { status, ms }) => {
        if (call.api === "grpc") {
          const s = this.#grpcSeries(call);
          s.handled[status >= 0 && status < CODES ? status : Code.UNKNOWN]!++;
          s.seconds.observe(ms / 1000);
        } else {
          this.#httpSeries(call, status).observe(ms / 1000);
        }
      },
    };
  }

  predicted(model: IrisModel, classIndex: number, mask: number): void {
    this.#rows.observe(1);
    const name = model.classes[classIndex]!;
    this.#species.set(name, (this.#species.get(name) ?? 0) + 1);
    if (mask !== 0) {
      for (let j = 0; j < model.numFeatures; j++) if (mask & (1 << j)) this.#countOutOfRange(model.featureNames[j]!, 1);
    }
  }

  predictedBatch(model: IrisModel, classIndices: ArrayLike<number>, rows: number, masks: Uint32Array | undefined): void {
    this.#rows.observe(rows);
    const k = model.numClasses;
    if (this.#classCounts.length < k) this.#classCounts = new Float64Array(k);
    const counts = this.#classCounts.fill(0, 0, k);
    if (k === 3) {
      // Two sums kept in registers rather than a count in memory per row,
      // twice as fast for a 10 000-row batch: sum = n1 + 2·n2, twos = n2.
      let sum = 0;
      let twos = 0;
      for (let r = 0; r < rows; r++) {
        const c = classIndices[r]!;
        sum += c;
        twos += c >> 1;
      }
      counts[2] = twos;
      counts[1] = sum - 2 * twos;
      counts[0] = rows - counts[1] - twos;
    } else for (let r = 0; r < rows; r++) counts[classIndices[r]!]!++;
    for (let c = 0; c < k; c++) {
      if (counts[c]! > 0) {
        const name = model.classes[c]!;
        this.#species.set(name, (this.#species.get(name) ?? 0) + counts[c]!);
      }
    }
    if (masks === undefined) return;
    const d = model.numFeatures;
    const features = this.#featureCounts.fill(0, 0, d);
    for (let r = 0; r < rows; r++) {
      const mask = masks[r]!;
      if (mask !== 0) for (let j = 0; j < d; j++) if (mask & (1 << j)) features[j]!++;
    }
    for (let j = 0; j < d; j++) if (features[j]! > 0) this.#countOutOfRange(model.featureNames[j]!, features[j]!);
  }

  /** Counts a model reload attempt (the old model kept serving after a failure). */
  reloaded(result: ReloadResult): void {
    this.#reloads.inc({ result });
  }

  /** Every metric of this server and of the process, in the Prometheus text format. */
  exposition(): Promise<string> {
    return Registry.merge([this.registry, processMetrics()]).metrics();
  }

  /** The same metrics as prom-client's JSON form: families with their samples' names and labels (scripts/validate-monitoring.ts). */
  families(): ReturnType<Registry["getMetricsAsJSON"]> {
    return Registry.merge([this.registry, processMetrics()]).getMetricsAsJSON();
  }

  #countOutOfRange(feature: string, n: number): void {
    this.#outOfRange.set(feature, (this.#outOfRange.get(feature) ?? 0) + n);
  }

  #grpcSeries(method: CallMethod): GrpcSeries {
    let methods = this.#grpc.get(method.service);
    if (methods === undefined) {
      methods = new Map();
      this.#grpc.set(method.service, methods);
    }
    let series = methods.get(method.method);
    if (series === undefined) {
      const labels = { grpc_type: method.kind, grpc_service: method.service, grpc_method: method.method };
      series = { labels, started: 0, handled: new Float64Array(CODES), seconds: this.#grpcSeconds.series(labels) };
      methods.set(method.method, series);
    }
    return series;
  }

  #httpSeries(call: CallMethod, status: number): HistogramSeries {
    const method = HTTP_METHODS.has(call.service) ? call.service : "_OTHER";
    const route = call.method === "" ? UNMATCHED_ROUTE : call.method;
    let routes = this.#http.get(method);
    if (routes === undefined) {
      routes = new Map();
      this.#http.set(method, routes);
    }
    let statuses = routes.get(route);
    if (statuses === undefined) {
      statuses = new Map();
      routes.set(route, statuses);
    }
    let series = statuses.get(status);
    if (series === undefined) {
      series = this.#httpSeconds.series({
        http_request_method: method,
        http_route: route,
        http_response_status_code: String(status),
      });
      statuses.set(status, series);
    }
    return series;
  }
}

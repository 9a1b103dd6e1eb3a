/**
 * The Live panel's arithmetic, on the server's Prometheus metrics
 * (`GET /metrics`, text format 0.0.4): a parser for the samples, a
 * `Reading` of the totals that matter at one scrape, and what happened
 * between two readings (calls per second, error ratio, latency quantiles,
 * predictions per species), computed as Prometheus's own `rate()` and
 * `histogram_quantile()` would be. Pure: text and numbers in, numbers out.
 *
 * Prediction calls are these, on both ports (health checks, metadata and
 * this page's own polling are left out):
 * HTTP `POST /predict` and V2 infer (`http_server_request_duration_seconds`,
 * errors: status >= 400), gRPC iris.v1 Predict and BatchPredict and the
 * Open Inference Protocol's ModelInfer (`grpc_server_handled_total`,
 * `grpc_server_handling_seconds`, errors: any code but OK).
 */

export interface Sample {
  name: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

const HTTP_ROUTES: ReadonlySet<string> = new Set(["/predict", "/v2/models/:name/infer", "/v2/models/:name/versions/:version/infer"]);
const GRPC_METHODS: ReadonlySet<string> = new Set([
  "iris.v1.IrisService/Predict",
  "iris.v1.IrisService/BatchPredict",
  "inference.GRPCInferenceService/ModelInfer",
]);

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/gy;

function unescape(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}

/** A Prometheus value: a float, `+Inf`, `-Inf` or `NaN`. */
function number(text: string): number {
  if (text === "+Inf" || text === "Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return Number(text);
}

/** The samples of a Prometheus text exposition (comments and blank lines skipped; a line that is not a sample is an error). */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const match = SAMPLE.exec(line);
    if (match === null) throw new Error(`metrics line ${i + 1} is not a sample: ${line.slice(0, 80)}`);
    const labels: Record<string, string> = {};
    const body = match[2] ?? "";
    LABEL.lastIndex = 0;
    let read = 0;
    for (let m = LABEL.exec(body); m !== null; m = LABEL.exec(body)) {
      labels[m[1]!] = unescape(m[2]!);
      read = LABEL.lastIndex;
    }
    if (read !== body.length) throw new Error(`metrics line ${i + 1} has malformed labels: ${line.slice(0, 80)}`);
    samples.push({ name: match[1]!, labels, value: number(match[3]!) });
  });
  return samples;
}

/** The totals of one scrape that the Live panel follows. */
export interface Reading {
  /** When it was read (ms, the page's clock). */
  at: number;
  /** Prediction calls so far, and those that failed. */
  calls: number;
  errors: number;
  /** Cumulative latency histogram of the prediction calls: upper bound (s) → calls at or under it. */
  latency: Map<number, number>;
  /** Rows predicted so far, by species. */
  species: Map<string, number>;
  /** The model being served, per iris_model_info. */
  model: { name: string; version: string } | undefined;
  /** Model reloads so far, by result (success, failure). */
  reloads: Map<string, number>;
}

const add = <K>(map: Map<K, number>, key: K, value: number): void => {
  map.set(key, (map.get(key) ?? 0) + value);
};

/** The Reading of a scrape. */
export function readingOf(samples: readonly Sample[], at: number): Reading {
  const reading: Reading = { at, calls: 0, errors: 0, latency: new Map(), species: new Map(), model: undefined, reloads: new Map() };
  for (const { name, labels, value } of samples) {
    switch (name) {
      case "http_server_request_duration_seconds_count":
        if (!HTTP_ROUTES.has(labels.http_route ?? "")) break;
        reading.calls += value;
        if (Number(labels.http_response_status_code) >= 400) reading.errors += value;
        break;
      case "http_server_request_duration_seconds_bucket":
        if (HTTP_ROUTES.has(labels.http_route ?? "")) add(reading.latency, number(labels.le ?? "NaN"), value);
        break;
      case "grpc_server_handled_total":
        if (!GRPC_METHODS.has(`${labels.grpc_service}/${labels.grpc_method}`)) break;
        reading.calls += value;
        if (labels.grpc_code !== "OK") reading.errors += value;
        break;
      case "grpc_server_handling_seconds_bucket":
        if (GRPC_METHODS.has(`${labels.grpc_service}/${labels.grpc_method}`)) add(reading.latency, number(labels.le ?? "NaN"), value);
        break;
      case "iris_predictions_total":
        add(reading.species, labels.species ?? "", value);
        break;
      case "iris_model_info":
        if (value === 1) reading.model = { name: labels.name ?? "", version: labels.version ?? "" };
        break;
      case "iris_model_reloads_total":
        add(reading.reloads, labels.result ?? "", value);
        break;
    }
  }
  return reading;
}

/** What happened between two readings. */
export interface Interval {
  /** The later reading's time. */
  at: number;
  seconds: number;
  callsPerSecond: number;
  /** Failed calls / calls; NaN without calls. */
  errorRatio: number;
  /** Latency quantiles in seconds; NaN without calls. */
  p50: number;
  p99: number;
  /** Rows predicted in the interval, by species. */
  species: Map<string, number>;
  /** Successful and failed reloads in the interval. */
  reloaded: number;
  reloadFailed: number;
}

/** An increase of a counter; a counter that went down was reset (the server restarted), so all of its value is new. */
const increase = (later: number, earlier: number | undefined): number => (earlier === undefined || later < earlier ? later : later - earlier);

/**
 * The q-quantile of a cumulative histogram (bound → count), as Prometheus's
 * histogram_quantile: linear within the bucket that holds the rank, the
 * highest finite bound when that bucket is +Inf's; NaN when it is empty.
 */
export function quantile(q: number, cumulative: ReadonlyMap<number, number>): number {
  const buckets = [...cumulative].filter(([le]) => !Number.isNaN(le)).sort((a, b) => a[0] - b[0]);
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total <= 0 || buckets.at(-1)![0] !== Infinity) return NaN;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (le === Infinity) return lower;
      const inBucket = count - below;
      return inBucket <= 0 ? le : lower + (le - lower) * ((rank - below) / inBucket);
    }
    lower = le;
    below = count;
  }
  return lower;
}

/** The interval from `earlier` to `later`. */
export function between(earlier: Reading, later: Reading): Interval {
  const seconds = Math.max((later.at - earlier.at) / 1000, 1e-3);
  const reset = later.calls < earlier.calls;
  const calls = increase(later.calls, reset ? undefined : earlier.calls);
  const errors = increase(later.errors, reset ? undefined : earlier.errors);
  const latency = new Map<number, number>();
  for (const [le, count] of later.latency) latency.set(le, increase(count, reset ? undefined : earlier.latency.get(le)));
  const species = new Map<string, number>();
  for (const [name, count] of later.species) species.set(name, increase(count, earlier.species.get(name)));
  return {
    at: later.at,
    seconds,
    callsPerSecond: calls / seconds,
    errorRatio: calls > 0 ? errors / calls : NaN,
    p50: calls > 0 ? quantile(0.5, latency) : NaN,
    p99: calls > 0 ? quantile(0.99, latency) : NaN,
    species,
    reloaded: increase(later.reloads.get("success") ?? 0, earlier.reloads.get("success")),
    reloadFailed: increase(later.reloads.get("failure") ?? 0, earlier.reloads.get("failure")),
  };
}

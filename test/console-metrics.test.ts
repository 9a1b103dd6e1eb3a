/**
 * The Live panel's arithmetic (src/console/metrics.ts) on Prometheus text:
 * the parser (labels with escapes, special values), the selection of
 * prediction calls, counter resets, and histogram quantiles against the
 * exact quantiles of the observations the buckets were filled from.
 */
import { describe, expect, it } from "vitest";
import { between, parsePrometheus, quantile, readingOf } from "../src/console/metrics.js";

const BOUNDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A histogram's `_bucket` lines for these observations (cumulative, with +Inf). */
function bucketLines(name: string, labels: string, observations: readonly number[]): string[] {
  return [...BOUNDS, Infinity].map((le) => {
    const count = observations.filter((o) => o <= le).length;
    return `${name}_bucket{${labels},le="${le === Infinity ? "+Inf" : String(le)}"} ${count}`;
  });
}

/** A deterministic spread of latencies, 50 µs to 2 s (log-uniform). */
function latencies(n: number, seed: number): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return 5e-5 * 40000 ** (x / 2 ** 31);
  });
}

function exactQuantile(q: number, values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

describe("parsePrometheus", () => {
  it("reads names, labels (with escapes) and values, skipping comments", () => {
    const samples = parsePrometheus(
      [
        "# HELP iris_model_info The model being served.",
        "# TYPE iris_model_info gauge",
        'iris_model_info{name="iris \\"logreg\\"",version="cfa3",format="a\\\\b\\nc"} 1',
        "",
        'grpc_server_handling_seconds_bucket{grpc_method="Predict",le="+Inf"} 42 1700000000000',
        "process_start_time_seconds 1.7e9",
        'odd{a="1",} NaN',
      ].join("\n"),
    );
    expect(samples).toEqual([
      { name: "iris_model_info", labels: { name: 'iris "logreg"', version: "cfa3", format: "a\\b\nc" }, value: 1 },
      { name: "grpc_server_handling_seconds_bucket", labels: { grpc_method: "Predict", le: "+Inf" }, value: 42 },
      { name: "process_start_time_seconds", labels: {}, value: 1.7e9 },
      { name: "odd", labels: { a: "1" }, value: NaN },
    ]);
  });

  it("refuses a line that is not a sample, naming it", () => {
    expect(() => parsePrometheus("ok 1\nnot a sample at all")).toThrow("metrics line 2 is not a sample: not a sample at all");
    expect(() => parsePrometheus('x{a="1" b} 1')).toThrow("metrics line 1 has malformed labels");
  });
});

describe("quantile", () => {
  it.each([0.5, 0.9, 0.99])("estimates the %s-quantile within the bucket that holds it", (q) => {
    const values = latencies(5000, 7);
    const cumulative = new Map(parsePrometheus(bucketLines("h", 'a="1"', values).join("\n")).map((s) => [Number(s.labels.le === "+Inf" ? Infinity : s.labels.le), s.value]));
    const estimate = quantile(q, cumulative);
    const exact = exactQuantile(q, values);
    // The estimate lies in the same bucket as the exact value.
    const upper = BOUNDS.find((b) => b >= exact)!;
    const lower = [...BOUNDS].reverse().find((b) => b < exact) ?? 0;
    expect(estimate).toBeGreaterThanOrEqual(lower);
    expect(estimate).toBeLessThanOrEqual(upper);
  });

  it("is NaN for an empty histogram and the highest finite bound when the rank falls in +Inf", () => {
    expect(quantile(0.5, new Map([[0.1, 0], [Infinity, 0]]))).toBeNaN();
    expect(quantile(0.99, new Map([[0.1, 1], [10, 1], [Infinity, 100]]))).toBe(10);
  });
});

describe("readingOf and between", () => {
  const scrape = (predictOk: number, predictBad: number, grpcOk: number, grpcBad: number, version: string, observations: number[]): string =>
    [
      `http_server_request_duration_seconds_count{http_request_method="POST",http_route="/predict",http_response_status_code="200"} ${predictOk}`,
      `http_server_request_duration_seconds_count{http_request_method="POST",http_route="/predict",http_response_status_code="400"} ${predictBad}`,
      // Not a prediction call: left out.
      `http_server_request_duration_seconds_count{http_request_method="GET",http_route="/metrics",http_response_status_code="200"} 1000`,
      `grpc_server_handled_total{grpc_type="unary",grpc_service="iris.v1.IrisService",grpc_method="Predict",grpc_code="OK"} ${grpcOk}`,
      `grpc_server_handled_total{grpc_type="unary",grpc_service="iris.v1.IrisService",grpc_method="Predict",grpc_code="INVALID_ARGUMENT"} ${grpcBad}`,
      `grpc_server_handled_total{grpc_type="unary",grpc_service="grpc.health.v1.Health",grpc_method="Check",grpc_code="OK"} 500`,
      ...bucketLines("grpc_server_handling_seconds", 'grpc_type="unary",grpc_service="iris.v1.IrisService",grpc_method="Predict"', observations),
      'iris_predictions_total{species="setosa"} ' + String(predictOk),
      'iris_predictions_total{species="virginica"} ' + String(grpcOk),
      `iris_model_info{name="iris-logreg",version="${version}",format="iris-serve.model.v1"} 1`,
      'iris_model_reloads_total{result="success"} 0',
    ].join("\n");

  it("counts prediction calls on both ports, their errors, latency and species over an interval", () => {
    const before = readingOf(parsePrometheus(scrape(10, 2, 20, 0, "aaaa", latencies(20, 1))), 1_000);
    const later = latencies(60, 2);
    const after = readingOf(parsePrometheus(scrape(40, 8, 50, 2, "bbbb", [...latencies(20, 1), ...later])), 11_000);
    expect([before.calls, before.errors, after.calls, after.errors]).toEqual([32, 2, 100, 10]);
    expect(after.model).toEqual({ name: "iris-logreg", version: "bbbb" });
    const i = between(before, after);
    expect(i.seconds).toBe(10);
    expect(i.callsPerSecond).toBeCloseTo(6.8, 12);
    expect(i.errorRatio).toBeCloseTo(8 / 68, 12);
    expect(Object.fromEntries(i.species)).toEqual({ setosa: 30, virginica: 30 });
    // Latency quantiles of the 60 gRPC calls observed in the interval only.
    const upper = BOUNDS.find((b) => b >= exactQuantile(0.5, later))!;
    expect(i.p50).toBeLessThanOrEqual(upper);
  });

  it("takes a counter that went down as reset (the server restarted): everything since is new", () => {
    const before = readingOf(parsePrometheus(scrape(100, 0, 100, 0, "aaaa", latencies(100, 3))), 0);
    const after = readingOf(parsePrometheus(scrape(5, 1, 0, 0, "aaaa", [])), 2_000);
    const i = between(before, after);
    expect(i.callsPerSecond).toBe(3);
    expect(i.errorRatio).toBeCloseTo(1 / 6, 12);
  });

  it("has no ratio or latency for an interval without calls", () => {
    const r = readingOf(parsePrometheus(scrape(1, 0, 0, 0, "aaaa", [])), 0);
    const i = between(r, { ...r, at: 2_000 });
    expect([i.callsPerSecond, i.errorRatio, i.p50, i.p99]).toEqual([0, NaN, NaN, NaN]);
  });
});

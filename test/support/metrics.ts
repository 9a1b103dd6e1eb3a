/**
 * Scraping a server's `GET /metrics` as Prometheus would: the answer is
 * fetched through the OpenAPI-checked HTTP client, its Content-Type must be
 * the Prometheus text format's, and the text is parsed by the Prometheus
 * project's own Python client (Debian's python3-prometheus-client), an
 * independent parser, through test/support/prometheus-text.py.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { httpClient } from "./http-client.js";

const PARSER = fileURLToPath(new URL("prometheus-text.py", import.meta.url));
/** Debian's interpreter, which has the python3-prometheus-client package (another python3 on PATH may not). */
const PYTHON = "/usr/bin/python3";

const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number | "+Inf" | "-Inf" | "NaN";
}

export interface Scrape {
  /** The exposition as served. */
  text: string;
  /** Metric families by name, as the parser names them (a counter's without `_total`). */
  families: Map<string, { type: string; help: string }>;
  samples: Sample[];
  /** The samples named `name` whose labels include `labels`. */
  find(name: string, labels?: Record<string, string>): Sample[];
  /** The value of the one sample named `name` with exactly these labels (0 when there is none); throws when it is not finite. */
  value(name: string, labels?: Record<string, string>): number;
}

/** Parses an exposition with the Prometheus Python client. */
function parseExposition(text: string): Promise<{ families: Scrape["families"]; samples: Sample[] }> {
  return new Promise((resolve, reject) => {
    const child = execFile(PYTHON, [PARSER], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`the Prometheus parser refused the exposition: ${stderr || err.message}`));
        return;
      }
      const parsed = JSON.parse(stdout) as { families: { name: string; type: string; help: string }[]; samples: Sample[] };
      resolve({ families: new Map(parsed.families.map((f) => [f.name, { type: f.type, help: f.help }])), samples: parsed.samples });
    });
    child.stdin!.end(text);
  });
}

export async function scrape(httpBase: string): Promise<Scrape> {
  const res = await httpClient(httpBase).get("/metrics");
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}: ${res.text}`);
  const contentType = res.headers.get("content-type");
  if (contentType !== PROMETHEUS_CONTENT_TYPE) throw new Error(`GET /metrics has Content-Type ${contentType}`);
  const { families, samples } = await parseExposition(res.text);
  const find = (name: string, labels: Record<string, string> = {}): Sample[] =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return {
    text: res.text,
    families,
    samples,
    find,
    value(name, labels = {}) {
      const exact = find(name, labels).filter((s) => Object.keys(s.labels).length === Object.keys(labels).length);
      if (exact.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${exact.length} samples`);
      const value = exact[0]?.value ?? 0;
      if (typeof value !== "number") throw new Error(`${name} ${JSON.stringify(labels)} is ${value}`);
      return value;
    },
  };
}

/**
 * What the server benchmarks share: server processes that report their
 * port, h2load runs checked byte for byte, CPU time from /proc, CPU pinning
 * and the machine's description.
 *
 * h2load counts an HTTP 200 even when a gRPC call failed (the status is a
 * trailer), so every run is also checked byte for byte: the DATA bytes
 * received must equal requests × the size of the correct answer, which a
 * failed call (no DATA, or an error body of another size) or a wrong answer
 * cannot produce.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { cpus, release, totalmem } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { BatchPredictResponse } from "../../src/gen/iris.js";
import type { IrisModel } from "../../src/model/index.js";

export const run = promisify(execFile);
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const H2LOAD_TIMEOUT_MS = 180_000;

const haveTaskset = await run("taskset", ["--version"]).then(
  () => true,
  () => false,
);

/** `argv` pinned to one CPU when taskset and a second CPU exist (servers on 0, load on 1). */
function pin(cpu: number, argv: string[]): string[] {
  return haveTaskset && cpus().length > 1 ? ["taskset", "-c", String(cpu), ...argv] : argv;
}

/** CPU time (user + system) a process has used so far, in milliseconds (Linux /proc). */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the line, in clock ticks (USER_HZ = 100 on Linux).
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

export interface ServerProcess {
  name: string;
  child: ChildProcess;
  /** The fields of the line that said it was serving (port, httpPort, ...). */
  serving: Record<string, unknown>;
}

/**
 * Starts a server process on CPU 0; resolves with its "serving" line (a JSON
 * object with `msg: "serving"`) once it prints one.
 */
export async function startServer(name: string, argv: string[]): Promise<ServerProcess> {
  const [cmd, ...args] = pin(0, argv);
  const child = spawn(cmd!, args, { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  const serving = await new Promise<Record<string, unknown>>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`${name} exited (${code}) before serving`)));
    lines.on("line", (line) => {
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (parsed.msg === "serving") resolve(parsed);
      } catch {
        // not a log line
      }
    });
  });
  return { name, child, serving };
}

export async function stopServer(s: { child: ChildProcess }): Promise<void> {
  if (s.child.exitCode !== null) return;
  const exited = once(s.child, "exit");
  s.child.kill("SIGTERM");
  await exited;
}

/** A gRPC message framed: 1 byte flag (0 = not compressed), 4-byte big-endian length, message. */
export function frame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

export interface LoadSpec {
  /** The process that answers (for its CPU time). */
  server: { child: ChildProcess };
  url: string;
  /** Request headers, `name: value`. */
  headers: string[];
  /** The request body, sent with every request. */
  bodyFile: string;
  /** Requests to make; ignored when `durationSeconds` is given. */
  requests: number;
  /** Load for this long instead of a number of requests (h2load -D): the requests done are counted. */
  durationSeconds?: number;
  clients: number;
  /** Concurrent streams per client (HTTP/2); 1 for HTTP/1.1. */
  streams: number;
  /** The exact number of response body bytes each correct answer has. */
  expectedBytes: number;
  /** HTTP/1.1 instead of HTTP/2. */
  h1?: boolean;
  /** Where h2load's per-request log goes (a fresh file). */
  logFile: string;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Server CPU time per request, in microseconds. */
  cpuUsPerRequest: number;
}

/**
 * One h2load run, on CPU 1. Throws unless every request succeeded and the
 * DATA bytes equal `requests × expectedBytes` (a timed run: whole answers,
 * at least one per request done).
 */
export async function load(spec: LoadSpec): Promise<LoadResult> {
  const argv = pin(1, [
    "h2load",
    ...(spec.h1 ? ["--h1"] : []),
    ...(spec.durationSeconds === undefined ? ["-n", String(spec.requests)] : ["-D", String(spec.durationSeconds)]),
    "-c", String(spec.clients),
    "-m", String(spec.streams),
    "-t", "1",
    ...spec.headers.flatMap((h) => ["-H", h]),
    "-d", spec.bodyFile,
    "--log-file", spec.logFile,
    spec.url,
  ]);
  const pid = spec.server.child.pid!;
  const cpuBefore = await cpuMs(pid);
  const { stdout } = await run(argv[0]!, argv.slice(1), { timeout: H2LOAD_TIMEOUT_MS, maxBuffer: 1 << 20 });
  const cpuUs = ((await cpuMs(pid)) - cpuBefore) * 1000;
  const finished = /finished in ([\d.]+)(m?s), ([\d.]+) req\/s/.exec(stdout);
  const counts = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(stdout);
  const data = /\((\d+)\) data/.exec(stdout);
  if (!finished || !counts || !data) throw new Error(`cannot read h2load's report:\n${stdout}`);
  // A timed run stops with calls in flight; those are not done and not counted.
  const requests = spec.durationSeconds === undefined ? spec.requests : Number(counts[3]);
  if (Number(counts[4]) !== requests) throw new Error(`${spec.url}: only ${counts[4]} of ${requests} requests succeeded:\n${stdout}`);
  const cpuUsPerRequest = cpuUs / requests;
  // Whole answers only; a timed run's cut-off calls may have had theirs before their status.
  const received = Number(data[1]);
  const most = (spec.durationSeconds === undefined ? requests : Number(counts[2])) * spec.expectedBytes;
  if (received < requests * spec.expectedBytes || received > most || received % spec.expectedBytes !== 0) {
    throw new Error(`${spec.url}: received ${received} bytes of answers, expected ${requests * spec.expectedBytes}: some calls failed or answered wrongly`);
  }
  // --log-file: start time (µs), HTTP status, duration (µs) per request.
  const durations = (await readFile(spec.logFile, "utf8"))
    .trim()
    .split("\n")
    .map((l) => Number(l.split("\t")[2]) / 1000)
    .sort((a, b) => a - b);
  await rm(spec.logFile);
  if (durations.length !== requests) throw new Error(`h2load logged ${durations.length} requests, expected ${requests}`);
  const pct = (p: number): number => durations[Math.min(durations.length - 1, Math.floor((p / 100) * durations.length))]!;
  const seconds = Number(finished[1]) / (finished[2] === "ms" ? 1000 : 1);
  return { requests, seconds, reqPerSec: Number(finished[3]), p50Ms: pct(50), p99Ms: pct(99), cpuUsPerRequest };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** The model to serve: IRIS_MODEL, else artifacts/model.json, else one trained into `scratch`. */
export async function benchModelPath(scratch: string): Promise<string> {
  const configured = process.env.IRIS_MODEL || join(ROOT, "artifacts/model.json");
  if (existsSync(configured)) return configured;
  process.stderr.write(`bench: ${configured} does not exist; training a model into a temporary directory\n`);
  const out = join(scratch, "model");
  await run(process.execPath, ["dist/cli/main.js", "train", "--out", out], { cwd: ROOT });
  return join(out, "model.json");
}

/** `rows` rows of measurements cycling through data/iris.csv. */
export async function irisRows(rows: number): Promise<number[][]> {
  const csv = await readFile(join(ROOT, "data/iris.csv"), "utf8");
  const records = csv.trim().split(/\r?\n/).slice(1).map((l) => l.split(",").slice(0, 4).map(Number));
  return Array.from({ length: rows }, (_, i) => records[i % records.length]!);
}

export async function requireTools(): Promise<void> {
  if (!existsSync(join(ROOT, "dist/cli/main.js"))) throw new Error("dist/ is missing: run `npm run build` first");
  await run("h2load", ["--version"]).catch(() => {
    throw new Error("h2load not found: apt-get install -y nghttp2-client");
  });
}

/** One line describing the machine and the method, for the report. */
export async function machineLine(): Promise<string> {
  const { stdout } = await run("h2load", ["--version"]);
  const pinning = haveTaskset && cpus().length > 1 ? "servers on CPU 0, h2load on CPU 1 (taskset)" : "no CPU pinning";
  return `Machine: ${cpus()[0]?.model ?? "unknown"} × ${cpus().length}, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}, Node ${process.version}, ${stdout.trim().split("\n")[0]}; ${pinning}.`;
}

/** The message a gRPC server answers to one unary call of `path` with the encoded `request` (raw bytes both ways). */
export async function grpcAnswer(port: number, path: string, request: Uint8Array): Promise<Buffer> {
  const { Client, credentials } = await import("@grpc/grpc-js");
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure(), { "grpc.max_receive_message_length": -1 });
  try {
    return await new Promise<Buffer>((resolve, reject) =>
      client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, Buffer.from(request), (err, res) => (err ? reject(err) : resolve(res!))),
    );
  } finally {
    client.close();
  }
}

/** The BatchPredict answer (with probabilities) the server must send for `rows`: the model's, out-of-range flags only when a row has one. */
export function expectedBatchAnswer(model: IrisModel, rows: readonly number[][]): Uint8Array {
  const predictions = rows.map((r) => model.predict(r));
  const masks = rows.map((r) => model.outOfRange(r));
  const flagged = masks.some((m) => m !== 0);
  return BatchPredictResponse.encode({
    modelVersion: model.version,
    classes: [...model.classes],
    classIndices: predictions.map((p) => p.classIndex),
    probabilities: predictions.flatMap((p) => p.probabilities),
    outOfRangeMasks: flagged ? masks : [],
    outOfRangeFeatureNames: flagged ? [...model.featureNames] : [],
  }).finish();
}

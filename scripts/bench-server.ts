/**
 * Server benchmark (`npm run bench:server`, which builds dist/ first).
 *
 * Runs the compiled server (`node dist/cli/main.js serve`) and, as the
 * ceiling, a bare grpc-js server whose handlers do nothing
 * (scripts/bench-noop-server.ts), each as its own process on 127.0.0.1:0.
 * The load comes from h2load (apt-get install nghttp2-client), a separate
 * process speaking gRPC over HTTP/2. Measures:
 *   - Predict requests/s and p50/p99 latency at several concurrency levels,
 *     iris and no-op in back-to-back pairs (median of the pairs), plus the
 *     server CPU time per call from /proc;
 *   - BatchPredict rows/s with 1 000- and 10 000-row batches.
 * With taskset available, the servers run on CPU 0 and h2load on CPU 1.
 *
 * h2load counts an HTTP 200 even when the gRPC call failed (the status is a
 * trailer), so every run is also checked byte for byte: the DATA bytes
 * received must equal requests × the size of the correct framed answer, which
 * a failed call (no DATA) or a wrong answer cannot produce.
 *
 *   npm run bench:server [-- --quick] [-- --json results.json]
 *
 * --quick runs one pair/round of a fifth of the requests (a smoke run; noisy).
 *
 * The model is IRIS_MODEL, else artifacts/model.json; when neither exists, a
 * model is trained into a temporary directory first.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir, totalmem, release } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import {
  BatchPredictRequest,
  BatchPredictResponse,
  PredictRequest,
  PredictResponse,
  type Flower,
} from "../src/gen/iris.js";
import { loadModelFile, type IrisModel } from "../src/model/index.js";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../", import.meta.url));
const H2LOAD_TIMEOUT_MS = 180_000;

const { values: flags } = parseArgs({
  options: { quick: { type: "boolean", default: false }, json: { type: "string" } },
});
const scale = flags.quick ? 0.2 : 1;
/** Predict: alternating iris/no-op pairs per level; BatchPredict: rounds. */
const PAIRS = flags.quick ? 1 : 7;
const ROUNDS = flags.quick ? 1 : 3;

/** Predict concurrency levels: h2load clients (connections) × streams per client. */
const PREDICT_LEVELS = [
  { clients: 1, streams: 1 },
  { clients: 4, streams: 4 },
  { clients: 8, streams: 16 },
];
const PREDICT_REQUESTS = Math.round(30_000 * scale);
const BATCHES = [
  { rows: 1_000, requests: Math.round(4_000 * scale), clients: 2, streams: 2 },
  { rows: 10_000, requests: Math.round(600 * scale), clients: 2, streams: 2 },
];

const haveTaskset = await run("taskset", ["--version"]).then(
  () => true,
  () => false,
);
const pin = (cpu: number, argv: string[]): string[] => (haveTaskset && cpus().length > 1 ? ["taskset", "-c", String(cpu), ...argv] : argv);

/** CPU time (user + system) a process has used so far, in milliseconds (Linux /proc). */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the line, in clock ticks (USER_HZ = 100 on Linux).
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** A server process; resolves once it has printed its bound port. */
async function startServer(name: string, argv: string[]): Promise<{ name: string; port: number; child: ChildProcess }> {
  const [cmd, ...args] = pin(0, argv);
  const child = spawn(cmd!, args, { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`${name} exited (${code}) before serving`)));
    lines.on("line", (line) => {
      try {
        const parsed = JSON.parse(line) as { msg?: string; port?: number };
        if (parsed.msg === "serving" && typeof parsed.port === "number") resolve(parsed.port);
      } catch {
        // not a log line
      }
    });
  });
  return { name, port, child };
}

async function stopServer(s: { child: ChildProcess }): Promise<void> {
  if (s.child.exitCode !== null) return;
  const exited = once(s.child, "exit");
  s.child.kill("SIGTERM");
  await exited;
}

/** 1 byte flag (0 = not compressed), 4-byte big-endian length, message. */
function frame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

let h2loadRuns = 0;

interface LoadResult {
  requests: number;
  seconds: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Server CPU time per request, in microseconds. */
  cpuUsPerRequest: number;
}

/**
 * One h2load run. Throws unless every request succeeded and the DATA bytes
 * equal `requests × expectedFramedBytes`.
 */
async function load(
  server: { port: number; child: ChildProcess },
  method: string,
  bodyFile: string,
  requests: number,
  clients: number,
  streams: number,
  expectedFramedBytes: number,
  scratch: string,
): Promise<LoadResult> {
  // A fresh file per run: h2load appends to an existing one.
  const logFile = join(scratch, `h2load-${++h2loadRuns}.log`);
  const argv = pin(1, [
    "h2load",
    "-n", String(requests),
    "-c", String(clients),
    "-m", String(streams),
    "-t", "1",
    "-H", "content-type: application/grpc",
    "-H", "te: trailers",
    "-d", bodyFile,
    "--log-file", logFile,
    `http://127.0.0.1:${server.port}/iris.v1.IrisService/${method}`,
  ]);
  const cpuBefore = await cpuMs(server.child.pid!);
  const { stdout } = await run(argv[0]!, argv.slice(1), { timeout: H2LOAD_TIMEOUT_MS, maxBuffer: 1 << 20 });
  const cpuUsPerRequest = ((await cpuMs(server.child.pid!)) - cpuBefore) * 1000 / requests;
  const finished = /finished in ([\d.]+)(m?s), ([\d.]+) req\/s/.exec(stdout);
  const counts = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(stdout);
  const data = /\((\d+)\) data/.exec(stdout);
  if (!finished || !counts || !data) throw new Error(`cannot read h2load's report:\n${stdout}`);
  if (Number(counts[3]) !== requests) throw new Error(`${method}: only ${counts[3]} of ${requests} requests succeeded:\n${stdout}`);
  const expected = requests * expectedFramedBytes;
  if (Number(data[1]) !== expected) {
    throw new Error(`${method}: received ${data[1]} bytes of answers, expected ${expected}: some calls failed or answered wrongly`);
  }
  // --log-file: start time (µs), HTTP status, duration (µs) per request.
  const durations = (await readFile(logFile, "utf8"))
    .trim()
    .split("\n")
    .map((l) => Number(l.split("\t")[2]) / 1000)
    .sort((a, b) => a - b);
  await rm(logFile);
  if (durations.length !== requests) throw new Error(`h2load logged ${durations.length} requests, expected ${requests}`);
  const pct = (p: number): number => durations[Math.min(durations.length - 1, Math.floor((p / 100) * durations.length))]!;
  const seconds = Number(finished[1]) / (finished[2] === "ms" ? 1000 : 1);
  return { requests, seconds, reqPerSec: Number(finished[3]), p50Ms: pct(50), p99Ms: pct(99), cpuUsPerRequest };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function modelPath(scratch: string): Promise<string> {
  const configured = process.env.IRIS_MODEL || join(ROOT, "artifacts/model.json");
  if (existsSync(configured)) return configured;
  process.stderr.write(`bench: ${configured} does not exist; training a model into a temporary directory\n`);
  const out = join(scratch, "model");
  await run(process.execPath, ["dist/cli/main.js", "train", "--out", out], { cwd: ROOT });
  return join(out, "model.json");
}

function flowersFrom(csv: string, rows: number): Flower[] {
  const records = csv.trim().split(/\r?\n/).slice(1).map((l) => l.split(",").slice(0, 4).map(Number));
  return Array.from({ length: rows }, (_, i) => {
    const [sepalLength, sepalWidth, petalLength, petalWidth] = records[i % records.length]!;
    return { sepalLength, sepalWidth, petalLength, petalWidth };
  });
}

/** The framed answer the real server must send for `flowers`. */
function expectedBatchBytes(model: IrisModel, flowers: Flower[]): number {
  const predictions = flowers.map((f) => model.predict([f.sepalLength!, f.sepalWidth!, f.petalLength!, f.petalWidth!]));
  const response: BatchPredictResponse = {
    modelVersion: model.version,
    classes: [...model.classes],
    classIndices: predictions.map((p) => p.classIndex),
    probabilities: predictions.flatMap((p) => p.probabilities),
  };
  return 5 + BatchPredictResponse.encode(response).finish().length;
}

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, "dist/cli/main.js"))) throw new Error("dist/ is missing: run `npm run build` first");
  await run("h2load", ["--version"]).catch(() => {
    throw new Error("h2load not found: apt-get install -y nghttp2-client");
  });
  const scratch = await mkdtemp(join(tmpdir(), "iris-bench-"));
  const servers: { child: ChildProcess }[] = [];
  try {
    const path = await modelPath(scratch);
    const model = await loadModelFile(path);
    const csv = await readFile(join(ROOT, "data/iris.csv"), "utf8");

    // Request bodies and the exact size of each correct answer.
    const [one] = flowersFrom(csv, 1);
    const predictBody = join(scratch, "predict.bin");
    await writeFile(predictBody, frame(PredictRequest.encode({ flower: one }).finish()));
    const p = model.predict([one!.sepalLength!, one!.sepalWidth!, one!.petalLength!, one!.petalWidth!]);
    const predictAnswer =
      5 +
      PredictResponse.encode({
        prediction: { species: p.label, classIndex: p.classIndex, probabilities: p.probabilities },
        modelVersion: model.version,
      }).finish().length;
    const noopAnswer = 5 + PredictResponse.encode(PredictResponse.fromPartial({})).finish().length;

    const iris = await startServer("iris", [
      process.execPath, "dist/cli/main.js", "serve", "--host", "127.0.0.1", "--port", "0", "--model", path, "--log-level", "info",
    ]);
    servers.push(iris);
    const noop = await startServer("no-op", [process.execPath, "--import", "tsx", "scripts/bench-noop-server.ts"]);
    servers.push(noop);

    // Warm both up (JIT, connection setup paths).
    for (const [s, answer] of [[iris, predictAnswer], [noop, noopAnswer]] as const) {
      await load(s, "Predict", predictBody, Math.round(10_000 * scale), 4, 4, answer, scratch);
    }

    const predictRows: string[] = [];
    const predictJson: unknown[] = [];
    let worstRatio = Infinity;
    for (const { clients, streams } of PREDICT_LEVELS) {
      // Back-to-back pairs, in alternating order, so that other load on the
      // machine hits both servers alike; the ratio is the median of the
      // pairs' ratios.
      const runs: { iris: LoadResult[]; noop: LoadResult[]; ratios: number[] } = { iris: [], noop: [], ratios: [] };
      for (let pair = 0; pair < PAIRS; pair++) {
        const order = pair % 2 === 0 ? (["noop", "iris"] as const) : (["iris", "noop"] as const);
        const result: Partial<Record<"iris" | "noop", LoadResult>> = {};
        for (const which of order) {
          const [s, answer] = which === "iris" ? [iris, predictAnswer] : [noop, noopAnswer];
          result[which] = await load(s, "Predict", predictBody, PREDICT_REQUESTS, clients, streams, answer, scratch);
        }
        runs.iris.push(result.iris!);
        runs.noop.push(result.noop!);
        runs.ratios.push(result.iris!.reqPerSec / result.noop!.reqPerSec);
      }
      const summary = (rs: LoadResult[]) => ({
        reqPerSec: median(rs.map((r) => r.reqPerSec)),
        p50Ms: median(rs.map((r) => r.p50Ms)),
        p99Ms: median(rs.map((r) => r.p99Ms)),
        cpuUs: median(rs.map((r) => r.cpuUsPerRequest)),
      });
      const i = summary(runs.iris);
      const n = summary(runs.noop);
      const ratio = median(runs.ratios);
      worstRatio = Math.min(worstRatio, ratio);
      const inFlight = clients * streams;
      predictRows.push(
        `| ${inFlight} (${clients}×${streams}) | ${Math.round(i.reqPerSec)} | ${i.p50Ms.toFixed(2)} | ${i.p99Ms.toFixed(2)} | ${i.cpuUs.toFixed(1)} | ${Math.round(n.reqPerSec)} | ${n.p50Ms.toFixed(2)} | ${n.p99Ms.toFixed(2)} | ${n.cpuUs.toFixed(1)} | ${(ratio * 100).toFixed(1)} % |`,
      );
      predictJson.push({ clients, streams, iris: runs.iris, noop: runs.noop, ratios: runs.ratios, ratio });
      process.stderr.write(`bench: Predict at ${inFlight} in flight: ${Math.round(i.reqPerSec)} req/s (${(ratio * 100).toFixed(1)} % of no-op)\n`);
    }

    const batchRows: string[] = [];
    const batchJson: unknown[] = [];
    let rowsPerSec10k = 0;
    for (const b of BATCHES) {
      const flowers = flowersFrom(csv, b.rows);
      const body = join(scratch, `batch-${b.rows}.bin`);
      await writeFile(body, frame(BatchPredictRequest.encode({ flowers, omitProbabilities: false }).finish()));
      const answer = expectedBatchBytes(model, flowers);
      await load(iris, "BatchPredict", body, Math.max(20, Math.round(b.requests / 10)), b.clients, b.streams, answer, scratch);
      const runs: LoadResult[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        runs.push(await load(iris, "BatchPredict", body, b.requests, b.clients, b.streams, answer, scratch));
      }
      const reqPerSec = median(runs.map((r) => r.reqPerSec));
      const rowsPerSec = reqPerSec * b.rows;
      if (b.rows === 10_000) rowsPerSec10k = rowsPerSec;
      const cpuRowsPerSec = b.rows / (median(runs.map((r) => r.cpuUsPerRequest)) / 1e6);
      batchRows.push(
        `| ${b.rows} | ${b.clients * b.streams} | ${reqPerSec.toFixed(1)} | ${(rowsPerSec / 1e6).toFixed(2)} M | ${median(runs.map((r) => r.p50Ms)).toFixed(1)} | ${median(runs.map((r) => r.p99Ms)).toFixed(1)} | ${(cpuRowsPerSec / 1e6).toFixed(2)} M |`,
      );
      batchJson.push({ rows: b.rows, runs, rowsPerSec });
      process.stderr.write(`bench: BatchPredict ${b.rows} rows: ${(rowsPerSec / 1e6).toFixed(2)} M rows/s\n`);
    }

    const { stdout: h2loadVersion } = await run("h2load", ["--version"]);
    const machine = {
      cpu: `${cpus()[0]?.model ?? "unknown"} × ${cpus().length}`,
      memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
      kernel: release(),
      node: process.version,
      loadGenerator: h2loadVersion.trim().split("\n")[0],
      pinning: haveTaskset && cpus().length > 1 ? "servers on CPU 0, h2load on CPU 1 (taskset)" : "none",
      predictPairs: PAIRS,
      predictRequestsPerRun: PREDICT_REQUESTS,
      batchRounds: ROUNDS,
    };
    const report = [
      `Machine: ${machine.cpu}, ${machine.memory}, Linux ${machine.kernel}, Node ${machine.node}, ${machine.loadGenerator}; ${machine.pinning}.`,
      `Predict: medians of ${PAIRS} back-to-back iris/no-op pairs of ${PREDICT_REQUESTS} calls; BatchPredict: medians of ${ROUNDS} rounds.`,
      "",
      "Predict (one flower per call):",
      "",
      "| in flight (conns×streams) | iris req/s | p50 ms | p99 ms | CPU µs/call | no-op req/s | p50 ms | p99 ms | CPU µs/call | iris / no-op (req/s) |",
      "|---|---|---|---|---|---|---|---|---|---|",
      ...predictRows,
      "",
      "BatchPredict (with probabilities):",
      "",
      "| rows per call | in flight | calls/s | rows/s | p50 ms | p99 ms | rows per server CPU second |",
      "|---|---|---|---|---|---|---|",
      ...batchRows,
      "",
      `Targets: Predict >= 85 % of no-op at every level: ${worstRatio >= 0.85 ? "met" : "NOT met"} (worst ${(worstRatio * 100).toFixed(1)} %); ` +
        `BatchPredict 10k-row >= 1.5 M rows/s: ${rowsPerSec10k >= 1.5e6 ? "met" : "NOT met"} (${(rowsPerSec10k / 1e6).toFixed(2)} M).`,
      "",
    ].join("\n");
    process.stdout.write(report);
    if (flags.json) {
      await writeFile(flags.json, JSON.stringify({ machine, predict: predictJson, batch: batchJson }, null, 2));
    }
  } finally {
    await Promise.all(servers.map(stopServer));
    await rm(scratch, { recursive: true, force: true });
  }
}

await main();

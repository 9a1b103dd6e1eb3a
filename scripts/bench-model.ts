/**
 * Benchmarks of the trainer and of the model module, in-process:
 *
 * - the full default training run (load CSV, stratified split, 5-fold CV,
 *   final fit, metrics, report rendering), median of several repetitions
 *   after a warm-up, without and with the atomic file writes;
 * - single-row `predictInto` throughput;
 * - 100 000-row `predictBatch` throughput with and without probabilities.
 *
 * Run with `npm run bench:model`. Prints a Markdown table and the machine it
 * ran on; docs/training.md records figures seen.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseModel } from "../src/model/index.js";
import { formatJson, train, writeTrainingOutputs } from "../src/training/index.js";

const TRAIN_REPETITIONS = 15;
const BATCH_ROWS = 100_000;
/** Each throughput figure is the median of this many timed rounds. */
const ROUNDS = 15;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (match) return match[1]!.trim();
  } catch {
    // not Linux
  }
  return cpus()[0]?.model ?? "unknown";
}

/** Times `fn` (which does `work` units) over rounds; returns units per second (median round). */
function throughput(work: number, fn: () => void): number {
  const started = performance.now();
  while (performance.now() - started < 300) fn(); // warm up: let the JIT optimise
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let reps = 0;
    const t0 = performance.now();
    let elapsed = 0;
    do {
      fn();
      reps++;
      elapsed = performance.now() - t0;
    } while (elapsed < 50);
    rates.push((reps * work) / (elapsed / 1000));
  }
  return median(rates);
}

const fmt = (v: number) => (v >= 1e6 ? `${(v / 1e6).toFixed(1)} M` : v >= 1e3 ? `${(v / 1e3).toFixed(0)} k` : v.toFixed(0));

// ------------------------------------------------------------------ training
const times: number[] = [];
let run = await train({});
for (let i = 0; i < TRAIN_REPETITIONS; i++) {
  const t0 = performance.now();
  run = await train({});
  times.push(performance.now() - t0);
}
const trainingMs = median(times);

// The same, plus writing the four files atomically (temp file, fsync, rename) into a temp dir.
const outDir = mkdtempSync(join(tmpdir(), "iris-bench-"));
const withWrites: number[] = [];
try {
  for (let i = 0; i < TRAIN_REPETITIONS; i++) {
    const t0 = performance.now();
    await writeTrainingOutputs(await train({ out: outDir }));
    withWrites.push(performance.now() - t0);
  }
} finally {
  rmSync(outDir, { recursive: true, force: true });
}
const trainingWriteMs = median(withWrites);

// ---------------------------------------------------------------- prediction
const model = parseModel(formatJson(run.artifact), "bench");
const d = model.numFeatures;
const k = model.numClasses;
// Rows drawn around the training data's range, deterministic (no Math.random).
const x = new Float64Array(BATCH_ROWS * d);
let state = 12345;
for (let i = 0; i < x.length; i++) {
  state = (Math.imul(state, 1103515245) + 12345) >>> 0;
  const f = run.artifact.features[i % d]!;
  x[i] = f.min + (state / 2 ** 32) * (f.max - f.min);
}
const classes = new Int32Array(BATCH_ROWS);
const probabilities = new Float64Array(BATCH_ROWS * k);
const one = new Float64Array(k);
const row = x.subarray(0, d);
let sink = 0;

const rows1000 = Array.from({ length: 1000 }, (_, i) => x.slice(i * d, i * d + d));
const single = throughput(1000, () => {
  for (let i = 0; i < 1000; i++) sink += model.predictInto(rows1000[i]!, one);
});
const singleAlloc = throughput(1000, () => {
  for (let i = 0; i < 1000; i++) sink += model.predict(rows1000[i]!).classIndex;
});
const singleFixed = throughput(1000, () => {
  for (let i = 0; i < 1000; i++) sink += model.predictInto(row, one);
});
const batchClasses = throughput(BATCH_ROWS, () => model.predictBatch(x, BATCH_ROWS, classes));
const batchProbs = throughput(BATCH_ROWS, () => model.predictBatch(x, BATCH_ROWS, classes, probabilities));
if (sink === -1) console.log(sink); // keep the single-row results alive

console.log(`## bench:model\n`);
console.log(`machine: ${cpuModel()}, ${availableParallelism()} CPUs (nproc), Node ${process.version}\n`);
console.log("| what | figure |");
console.log("|---|---:|");
console.log(
  `| full default training run (load CSV, split, 5-fold CV, fit, metrics, report; median of ${TRAIN_REPETITIONS}) | ${trainingMs.toFixed(1)} ms |`,
);
console.log(`| the same plus writing the 4 files atomically (median of ${TRAIN_REPETITIONS}) | ${trainingWriteMs.toFixed(1)} ms |`);
console.log(`| Newton iterations of the final fit (each CV fold: at most ${run.metrics.crossValidation.maxIterations}) | ${run.fit.iterations} |`);
console.log(`| predictInto, single row (1 000 distinct rows, rows/s) | ${fmt(single)} |`);
console.log(`| predictInto, single row (same row, rows/s) | ${fmt(singleFixed)} |`);
console.log(`| predict, single row, allocating its result (rows/s) | ${fmt(singleAlloc)} |`);
console.log(`| predictBatch ${fmt(BATCH_ROWS)} rows, classes only (rows/s) | ${fmt(batchClasses)} |`);
console.log(`| predictBatch ${fmt(BATCH_ROWS)} rows, with probabilities (rows/s) | ${fmt(batchProbs)} |`);

/**
 * `iris train`: fit the model, evaluate it, write the artifacts atomically
 * and print a short summary. Nothing is written when the data or options
 * are bad (exit 2) or the quality gate fails (exit 1).
 */
import { relative } from "node:path";
import {
  checkQualityGate,
  checkTrainOptions,
  createdAtFromEpoch,
  DEFAULT_TRAIN_OPTIONS as D,
  train as runTraining,
  writeTrainingOutputs,
  type TrainingRun,
  type TrainOptions,
} from "../../training/index.js";
import { plural } from "../../report/index.js";
import { ExitCode, numberFlag, parseFlags, type Command } from "../command.js";

export const train: Command = {
  name: "train",
  summary: "Train the model on a CSV file and write model.json, metrics.json and a report",
  help: [
    "Usage: iris train [options]",
    "",
    "Fits multinomial logistic regression (scikit-learn's objective, solved by",
    "Newton's method) on a stratified training split, cross-validates it,",
    "evaluates it on the held-out rows and writes model.json, metrics.json,",
    "report.md and report.html into --out. The same data and options always",
    "give byte-identical files (SOURCE_DATE_EPOCH, if set, adds createdAt).",
    "",
    "Options:",
    `  --data PATH            UTF-8 CSV with a header naming sepal_length, sepal_width,`,
    `                         petal_length, petal_width and species, in any order`,
    `                         (other columns are ignored) (default ${D.data})`,
    `  --out DIR              Directory for the artifacts, created if missing; files of`,
    `                         the same names in it are replaced (default ${D.out})`,
    `  --c C                  Inverse L2 regularisation strength, > 0 (default ${D.C})`,
    `  --test-fraction F      Share of rows held out, 0 <= F < 1; 0 trains on all rows`,
    `                         and skips held-out metrics (default ${D.testFraction})`,
    `  --seed N               Seed of the split and the folds, 0..4294967295 (default ${D.seed})`,
    `  --folds K              Cross-validation folds, >= 2 (default ${D.folds})`,
    `  --max-iter N           Most Newton iterations per fit (default ${D.maxIter})`,
    `  --tol T                Stop when max |gradient| / (C * rows) <= T (default ${D.tol})`,
    "  --min-accuracy X       Fail with exit code 1, writing nothing, when held-out",
    "                         accuracy is below X (0..1; needs --test-fraction > 0)",
    "  -h, --help             Show this help",
    "",
    "Exit codes: 0 trained and written; 1 quality gate failed (nothing is written)",
    "or the files could not be written; 2 bad option or bad data (a data error",
    "names file:line:column; nothing is written).",
    "",
  ].join("\n"),

  async run(argv, io) {
    const options = parseTrainFlags(argv);
    const run = await runTraining(options);
    for (const warning of run.warnings) io.stderr.write(`iris train: warning: ${warning}\n`);
    checkQualityGate(run);
    const written = await writeTrainingOutputs(run);
    io.stdout.write(summary(run, written));
    return ExitCode.OK;
  },
};

/** Flags → fully checked options (usage errors name the flag). */
function parseTrainFlags(argv: string[]): TrainOptions {
  const { values: v } = parseFlags(argv, {
    data: { type: "string" },
    out: { type: "string" },
    c: { type: "string" },
    "test-fraction": { type: "string" },
    seed: { type: "string" },
    folds: { type: "string" },
    "max-iter": { type: "string" },
    tol: { type: "string" },
    "min-accuracy": { type: "string" },
  });
  const options: Partial<TrainOptions> = {
    data: v.data ?? D.data,
    out: v.out ?? D.out,
    C: numberFlag("c", v.c, D.C),
    testFraction: numberFlag("test-fraction", v["test-fraction"], D.testFraction),
    seed: numberFlag("seed", v.seed, D.seed, { integer: true }),
    folds: numberFlag("folds", v.folds, D.folds, { integer: true }),
    maxIter: numberFlag("max-iter", v["max-iter"], D.maxIter, { integer: true }),
    tol: numberFlag("tol", v.tol, D.tol),
    createdAt: createdAtFromEpoch(process.env.SOURCE_DATE_EPOCH),
  };
  if (v["min-accuracy"] !== undefined) options.minAccuracy = numberFlag("min-accuracy", v["min-accuracy"], 0);
  return checkTrainOptions(options);
}

function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === "" || rel.startsWith("..") ? path : rel;
}

/** The short table printed after a successful run. */
function summary(run: TrainingRun, written: readonly string[]): string {
  const { artifact: a, fit, metrics, dataset, split, options } = run;
  const cv = metrics.crossValidation;
  const f4 = (v: number) => v.toFixed(4);
  const rows: [string, string][] = [
    ["model", `${a.name} ${a.version}`],
    ["data", `${shown(options.data)}: ${dataset.rows} rows, ${dataset.classes.length} classes, sha256 ${dataset.sha256.slice(0, 12)}…`],
    [
      "split",
      split.test.length > 0
        ? `${split.train.length} train / ${split.test.length} test (stratified, seed ${options.seed})`
        : `${split.train.length} train / no test rows (--test-fraction 0)`,
    ],
    [
      "optimizer",
      `Newton, ${plural(fit.iterations, "iteration")}, gradient norm ${fit.gradientNorm.toExponential(2)}, ${fit.converged ? "converged" : "NOT converged"}`,
    ],
    [
      "held-out",
      metrics.heldOut
        ? `accuracy ${f4(metrics.heldOut.accuracy)} (${metrics.heldOut.correct}/${metrics.heldOut.rows}), ` +
          `macro-F1 ${f4(metrics.heldOut.macroF1)}, log-loss ${f4(metrics.heldOut.logLoss)}`
        : "none (--test-fraction 0)",
    ],
    ["cross-val", `accuracy ${f4(cv.accuracyMean)} ± ${f4(cv.accuracyStd)} (${cv.folds} folds, mean ± population std)`],
    ["wrote", written.map(shown).join(", ")],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return `${rows.map(([k, value]) => `  ${k.padEnd(width)}  ${value}`).join("\n")}\n`;
}

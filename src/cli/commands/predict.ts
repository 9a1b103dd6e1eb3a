/**
 * `iris predict --input "[5.1,3.5,1.4,0.2]"`: classify one or more rows and
 * print one JSON line that starts exactly as the original `run_model.py`
 * output did, `{"prediction":[0]`, followed by species names,
 * probabilities and the model version.
 *
 * The work is in three steps so that other prediction back ends can reuse
 * the first and last: {@link parseInputRows} turns `--input` into checked
 * numbers (usage errors, exit 2), a predictor (here {@link predictLocal},
 * from a model file) returns a {@link PredictOutput}, and
 * {@link formatPrediction} prints it.
 */
import { DEFAULTS, SETTINGS } from "../../config.js";
import { Code, IrisError } from "../../errors.js";
import { loadModelFile, measurementProblem } from "../../model/index.js";
import { FEATURES } from "../../model/index.js";
import { CLIENT_TLS_FLAGS, clientTlsHelp, wantsTls } from "../client-tls.js";
import { ExitCode, numberFlag, parseFlags, usageError, type Command } from "../command.js";
import { DEFAULT_REMOTE_TIMEOUT_MS, predictRemote } from "./predict-remote.js";

/** What every predictor returns, in the printed key order. */
export interface PredictOutput {
  /** Class index of each row, in model class order. */
  prediction: number[];
  /** Species name of each row. */
  species: string[];
  /** Probability of each class, per row. */
  probabilities: number[][];
  /** Version of the model that answered. */
  model: string;
}

export const predict: Command = {
  name: "predict",
  summary: "Classify measurements with a model file; prints {\"prediction\":[...],...}",
  help: [
    'Usage: iris predict --input "[5.1,3.5,1.4,0.2]" [--model PATH]',
    '       iris predict --input "[[5.1,3.5,1.4,0.2],[6.2,2.9,4.3,1.3]]"',
    "       iris predict --input - < rows.json",
    '       iris predict --remote HOST:PORT --input "[5.1,3.5,1.4,0.2]"',
    "",
    `--input is a JSON array of ${FEATURES.length} measurements in cm, in the order`,
    `${FEATURES.join(", ")}, or an array of such rows.`,
    "Prints one JSON line:",
    '  {"prediction":[0],"species":["setosa"],"probabilities":[[0.98,0.02,0.00]],"model":"<version>"}',
    "with class indices in the model's class order.",
    "",
    "Options:",
    "  --input JSON     The row(s) to classify (required); - reads them from stdin",
    `  --model PATH     Model artifact (${SETTINGS.modelPath.env}, default ${DEFAULTS.modelPath})`,
    "  --remote ADDR    Ask the server at ADDR (host:port) instead",
    `  --timeout-ms MS  Deadline of the remote call (default ${DEFAULT_REMOTE_TIMEOUT_MS})`,
    "  -h, --help       Show this help",
    ...clientTlsHelp("with --remote"),
    "",
    "Exit codes: 0 predicted; 2 bad --input (malformed JSON, wrong row length,",
    "non-numbers, negative or non-finite values); 1 missing or invalid model file,",
    "or a failed remote call.",
    "",
  ].join("\n"),

  async run(argv, io) {
    const { values } = parseFlags(argv, {
      input: { type: "string" },
      model: { type: "string" },
      remote: { type: "string" },
      "timeout-ms": { type: "string" },
      ...CLIENT_TLS_FLAGS,
    });
    if (values.input === undefined) throw usageError('--input is required, e.g. --input "[5.1,3.5,1.4,0.2]"');
    const rows = parseInputRows(values.input === "-" ? await readAll(io.stdin ?? process.stdin) : values.input);
    if (values.remote !== undefined) {
      if (values.model !== undefined) throw usageError("give --remote or --model, not both");
      const timeoutMs = numberFlag("timeout-ms", values["timeout-ms"], DEFAULT_REMOTE_TIMEOUT_MS, { min: 1, integer: true });
      io.stdout.write(formatPrediction(await predictRemote(values.remote, rows, timeoutMs, values)));
      return ExitCode.OK;
    }
    if (values["timeout-ms"] !== undefined) throw usageError("--timeout-ms applies only with --remote");
    if (wantsTls(values)) throw usageError("--tls, --tls-ca and --tls-server-name apply only with --remote");
    if (values.model?.trim() === "") throw usageError("--model must name a model file, got an empty string");
    const modelPath = values.model ?? (process.env[SETTINGS.modelPath.env] || DEFAULTS.modelPath);
    io.stdout.write(formatPrediction(await predictLocal(modelPath, rows)));
    return ExitCode.OK;
  },
};

/** Everything `stream` gives until it ends, as UTF-8 text (`--input -`). */
async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Parses `--input`: one row `[a,b,c,d]` or several `[[...],[...]]`, each of
 * the {@link FEATURES} in that order, passing the model's input rule
 * (finite, >= 0). Throws a one-line usage error naming the offending row and
 * value.
 */
export function parseInputRows(text: string): number[][] {
  const width = FEATURES.length;
  const example = `e.g. [${"1.0,".repeat(width - 1)}1.0] or [[...],[...]]`;
  if (text.trim() === "") throw usageError(`--input is empty: give a JSON array of ${width} measurements or of rows, ${example}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw usageError(`--input is not valid JSON: ${(err as Error).message.replace(/\s+/g, " ")}`);
  }
  if (!Array.isArray(json) || json.length === 0) {
    throw usageError(`--input must be a non-empty JSON array of ${width} measurements or of rows, ${example}`);
  }
  const single = !Array.isArray(json[0]);
  const rows: unknown[] = single ? [json] : json;
  return rows.map((row, r) => {
    const where = single ? "--input" : `--input row ${r}`;
    if (!Array.isArray(row)) throw usageError(`${where} must be an array of ${width} measurements, got ${JSON.stringify(row)}`);
    if (row.length !== width) {
      throw usageError(`${where} has ${row.length} value${row.length === 1 ? "" : "s"}, expected ${width} (${FEATURES.join(", ")})`);
    }
    return row.map((value, j) => {
      const name = FEATURES[j]!;
      if (typeof value !== "number") throw usageError(`${where}: ${name} must be a number, got ${JSON.stringify(value)}`);
      const problem = measurementProblem(value);
      if (problem !== undefined) throw usageError(`${where}: ${name} ${problem}`);
      return value;
    });
  });
}

/**
 * Predicts `rows` (measurements in {@link FEATURES} order) with the model
 * file at `modelPath`, handing each value to the model feature of the same
 * name, whatever the model's own order (load errors: exit 1).
 */
export async function predictLocal(modelPath: string, rows: readonly number[][]): Promise<PredictOutput> {
  const model = await loadModelFile(modelPath);
  const columns = model.featureNames.map((name) => (FEATURES as readonly string[]).indexOf(name));
  if (columns.length !== FEATURES.length || columns.includes(-1)) {
    throw new IrisError(
      Code.FAILED_PRECONDITION,
      `${modelPath}: the model's features (${model.featureNames.join(", ")}) are not the measurements --input gives (${FEATURES.join(", ")})`,
    );
  }
  const n = rows.length;
  const d = columns.length;
  const k = model.numClasses;
  const x = new Float64Array(n * d);
  rows.forEach((row, r) => columns.forEach((column, j) => (x[r * d + j] = row[column]!)));
  const classes = new Int32Array(n);
  const probabilities = new Float64Array(n * k);
  model.predictBatch(x, n, classes, probabilities);
  return {
    prediction: Array.from(classes),
    species: Array.from(classes, (c) => model.classes[c]!),
    probabilities: Array.from({ length: n }, (_, r) => Array.from(probabilities.subarray(r * k, (r + 1) * k))),
    model: model.version,
  };
}

/** One JSON line, `{"prediction":[...]` first. */
export function formatPrediction(output: PredictOutput): string {
  const { prediction, species, probabilities, model } = output;
  return `${JSON.stringify({ prediction, species, probabilities, model })}\n`;
}

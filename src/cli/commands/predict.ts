/**
 * `iris predict --input "[5.1,3.5,1.4,0.2]"`: classify one or more rows with
 * a model file, or with a running server (`--remote`), and print one JSON
 * line that starts exactly as the original `run_model.py` output did,
 * `{"prediction":[0]`, followed by species names, probabilities and the model
 * version. The steps are in ../prediction.ts.
 */
import { DEFAULT_MODEL_HELP, DEFAULTS, loadModelPath, SETTINGS } from "../../config.js";
import { FEATURES } from "../../model/index.js";
import { clientTlsHelp } from "../client-tls.js";
import { ExitCode, parseFlags, usageError, type Command } from "../command.js";
import { formatPrediction, parseInputRows, predictLocal, predictRemote } from "../prediction.js";
import {
  DEFAULT_REMOTE_TIMEOUT_MS,
  refuseRemoteCallFlags,
  remoteAddress,
  REMOTE_CALL_FLAGS,
  withRemoteClient,
} from "../remote.js";

export const predict: Command = {
  name: "predict",
  summary: "Classify measurements with a model file; prints {\"prediction\":[...],...}",
  help: [
    'Usage: iris predict --input "[5.1,3.5,1.4,0.2]" [--model PATH]',
    '       iris predict --input "[[5.1,3.5,1.4,0.2],[6.2,2.9,4.3,1.3]]"',
    "       iris predict --input - < rows.json",
    '       iris predict --remote HOST[:PORT] --input "[5.1,3.5,1.4,0.2]"',
    "",
    `--input is a JSON array of ${FEATURES.length} measurements in cm, in the order`,
    `${FEATURES.join(", ")}, or an array of such rows.`,
    "Prints one JSON line:",
    '  {"prediction":[0],"species":["setosa"],"probabilities":[[0.98,0.02,0.00]],"model":"<version>"}',
    "with class indices in the model's class order, and, when a measurement lies",
    'outside the range the model was trained on, "out_of_range" last: for each row',
    "the features that do (the prediction stands; the model extrapolates there).",
    "",
    "Options:",
    "  --input JSON         The row(s) to classify (required); - reads them from stdin",
    `  --model PATH         Model artifact (${SETTINGS.modelPath.env}; default ${DEFAULT_MODEL_HELP})`,
    `  --remote HOST[:PORT] Ask the server at HOST (port ${DEFAULTS.port} unless given) instead`,
    `  --timeout-ms MS      Deadline of the remote call (default ${DEFAULT_REMOTE_TIMEOUT_MS})`,
    "  --token-file FILE    Send the file's first line as a bearer token (servers with --token-file)",
    "  -h, --help           Show this help",
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
      ...REMOTE_CALL_FLAGS,
    });
    if (values.input === undefined) throw usageError('--input is required, e.g. --input "[5.1,3.5,1.4,0.2]"');
    const rows = parseInputRows(values.input === "-" ? await readAll(io.stdin ?? process.stdin) : values.input);
    if (values.remote !== undefined) {
      if (values.model !== undefined) throw usageError("give --remote or --model, not both");
      const address = remoteAddress("remote", values.remote);
      io.stdout.write(formatPrediction(await withRemoteClient(address, values, (client) => predictRemote(client, rows))));
      return ExitCode.OK;
    }
    refuseRemoteCallFlags(values, "remote");
    const modelPath = loadModelPath({ flags: { modelPath: values.model }, env: process.env });
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

/**
 * `iris info`: the ModelInfo of a running server (`--remote HOST[:PORT]`) or
 * of a model file, printed as the same JSON a gRPC tool shows for
 * iris.v1.IrisService/ModelInfo (proto3 JSON mapping). For a model file, the
 * path read goes to stderr.
 */
import { DEFAULT_MODEL_HELP, DEFAULTS, loadModelPath, SETTINGS } from "../../config.js";
import { ModelInfoResponse } from "../../gen/iris.js";
import { loadModelFile } from "../../model/index.js";
import { modelInfo } from "../../server/served-model.js";
import { clientTlsHelp } from "../client-tls.js";
import { ExitCode, parseFlags, usageError, type Command } from "../command.js";
import {
  DEFAULT_REMOTE_TIMEOUT_MS,
  refuseRemoteCallFlags,
  remoteAddress,
  REMOTE_CALL_FLAGS,
  withRemoteClient,
} from "../remote.js";

export const info: Command = {
  name: "info",
  summary: "Print the ModelInfo of a server (--remote) or of a model file, as JSON",
  help: [
    "Usage: iris info --remote HOST[:PORT] [--timeout-ms MS] [--tls | --tls-ca FILE] [--tls-server-name NAME]",
    "       iris info [--model PATH]",
    "",
    "Prints what iris.v1.IrisService/ModelInfo answers: model name, version,",
    "format, algorithm, features with their training ranges, classes,",
    "hyperparameters, metrics, dataset checksum and load time. For a model",
    "file, the path it read is printed on stderr.",
    "",
    "Options:",
    `  --remote HOST[:PORT] Ask this server (port ${DEFAULTS.port} unless given)`,
    `  --timeout-ms MS      Deadline of the call (default ${DEFAULT_REMOTE_TIMEOUT_MS})`,
    "  --token-file FILE    Send the file's first line as a bearer token (servers with --token-file)",
    `  --model PATH         Describe this artifact instead (${SETTINGS.modelPath.env}; default ${DEFAULT_MODEL_HELP})`,
    "  -h, --help           Show this help",
    ...clientTlsHelp("with --remote"),
    "",
  ].join("\n"),

  async run(argv, io) {
    const { values } = parseFlags(argv, {
      remote: { type: "string" },
      model: { type: "string" },
      ...REMOTE_CALL_FLAGS,
    });
    if (values.remote !== undefined && values.model !== undefined) throw usageError("give --remote or --model, not both");
    let response: ModelInfoResponse;
    if (values.remote !== undefined) {
      const address = remoteAddress("remote", values.remote);
      response = await withRemoteClient(address, values, (client) => client.modelInfo());
    } else {
      refuseRemoteCallFlags(values, "remote");
      const path = loadModelPath({ flags: { modelPath: values.model }, env: process.env });
      response = modelInfo(await loadModelFile(path), new Date());
      io.stderr.write(`iris info: model file ${path}\n`);
    }
    io.stdout.write(`${JSON.stringify(ModelInfoResponse.toJSON(response), null, 2)}\n`);
    return ExitCode.OK;
  },
};

/**
 * `iris info`: the ModelInfo of a running server (`--remote host:port`) or of
 * a model file, printed as the same JSON a gRPC tool shows for
 * iris.v1.IrisService/ModelInfo (proto3 JSON mapping).
 */
import { createIrisClient } from "../../client/index.js";
import { DEFAULTS, SETTINGS } from "../../config.js";
import { ModelInfoResponse } from "../../gen/iris.js";
import { loadModelFile } from "../../model/index.js";
import { modelInfo } from "../../server/served-model.js";
import { clientTlsHelp, clientTransport, CLIENT_TLS_FLAGS, wantsTls } from "../client-tls.js";
import { ExitCode, numberFlag, parseFlags, usageError, type Command } from "../command.js";
import { DEFAULT_REMOTE_TIMEOUT_MS, remoteError } from "./predict-remote.js";

export const info: Command = {
  name: "info",
  summary: "Print the ModelInfo of a server (--remote) or of a model file, as JSON",
  help: [
    "Usage: iris info --remote HOST:PORT [--timeout-ms MS] [--tls | --tls-ca FILE] [--tls-server-name NAME]",
    "       iris info [--model PATH]",
    "",
    "Prints what iris.v1.IrisService/ModelInfo answers: model name, version,",
    "format, algorithm, features with their training ranges, classes,",
    "hyperparameters, metrics, dataset checksum and load time.",
    "",
    "Options:",
    "  --remote HOST:PORT   Ask this server",
    `  --timeout-ms MS      Deadline of the call (default ${DEFAULT_REMOTE_TIMEOUT_MS})`,
    `  --model PATH         Describe this artifact instead (${SETTINGS.modelPath.env}, default ${DEFAULTS.modelPath})`,
    "  -h, --help           Show this help",
    ...clientTlsHelp("with --remote"),
    "",
  ].join("\n"),

  async run(argv, io) {
    const { values } = parseFlags(argv, {
      remote: { type: "string" },
      model: { type: "string" },
      "timeout-ms": { type: "string" },
      ...CLIENT_TLS_FLAGS,
    });
    if (values.remote !== undefined && values.model !== undefined) throw usageError("give --remote or --model, not both");
    let response: ModelInfoResponse;
    if (values.remote !== undefined) {
      if (values.remote.trim() === "") throw usageError("--remote must be HOST:PORT, got an empty string");
      const deadlineMs = numberFlag("timeout-ms", values["timeout-ms"], DEFAULT_REMOTE_TIMEOUT_MS, { min: 1, integer: true });
      const { credentials, channelOptions } = await clientTransport(values);
      const client = createIrisClient(values.remote, { deadlineMs, credentials, channelOptions });
      try {
        response = await client.modelInfo();
      } catch (err) {
        throw remoteError(values.remote, err);
      } finally {
        client.close();
      }
    } else {
      if (values["timeout-ms"] !== undefined) throw usageError("--timeout-ms applies only with --remote");
      if (wantsTls(values)) throw usageError("--tls, --tls-ca and --tls-server-name apply only with --remote");
      const path = values.model ?? (process.env[SETTINGS.modelPath.env] || DEFAULTS.modelPath);
      response = modelInfo(await loadModelFile(path), new Date());
    }
    io.stdout.write(`${JSON.stringify(ModelInfoResponse.toJSON(response), null, 2)}\n`);
    return ExitCode.OK;
  },
};

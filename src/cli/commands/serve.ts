/**
 * `iris serve`: loads the model, then serves iris.v1.IrisService (with health
 * and reflection) until SIGTERM/SIGINT. Nothing listens before the model has
 * loaded and the configuration has been checked; a bad model file or a busy
 * port ends the command with a message and exit code 1.
 */
import { DEFAULTS, loadConfig, SETTINGS, type ServerConfig } from "../../config.js";
import { createLogger, setLogger } from "../../logger.js";
import { loadModelFile } from "../../model/index.js";
import { ModelHolder } from "../../server/model-holder.js";
import { serveModel } from "../../server/served-model.js";
import { routeGrpcLogs, startIrisServer } from "../../server/server.js";
import { stopOnSignal } from "../../server/signals.js";
import { ExitCode, parseFlags, type Command } from "../command.js";

const line = (key: keyof ServerConfig, value: string, text: string): string =>
  `  --${`${SETTINGS[key].flag} ${value}`.padEnd(26)}${text} (${SETTINGS[key].env}, default ${DEFAULTS[key]})`;

export const serve: Command = {
  name: "serve",
  summary: "Serve the model over gRPC (iris.v1.IrisService, health, reflection)",
  help: [
    "Usage: iris serve [options]",
    "",
    "Serves the model artifact over gRPC until SIGTERM or SIGINT, then stops",
    "gracefully: health goes NOT_SERVING, new calls are refused and calls in",
    "flight get the grace period to finish. Logs are JSON lines on stdout; the",
    'first info line ("serving") gives the address, the bound port and the',
    "model version. Flags override the environment variables in brackets.",
    "",
    "Options:",
    line("host", "HOST", "Interface to listen on"),
    line("port", "PORT", "Port; 0 picks a free one"),
    line("modelPath", "PATH", "Model artifact to serve"),
    line("maxBatchRows", "N", "Most rows per BatchPredict call"),
    line("maxReceiveBytes", "N", "Largest request message"),
    line("logLevel", "LEVEL", "fatal|error|warn|info|debug|trace|silent"),
    line("shutdownGraceMs", "MS", "Time calls in flight get at shutdown"),
    `  ${"-h, --help".padEnd(28)}Show this help`,
    "",
  ].join("\n"),

  async run(argv, io) {
    const { values } = parseFlags(argv, {
      host: { type: "string" },
      port: { type: "string" },
      model: { type: "string" },
      "max-batch-rows": { type: "string" },
      "max-receive-bytes": { type: "string" },
      "log-level": { type: "string" },
      "shutdown-grace-ms": { type: "string" },
    });
    const config = loadConfig({
      flags: {
        host: values.host,
        port: values.port,
        modelPath: values.model,
        maxBatchRows: values["max-batch-rows"],
        maxReceiveBytes: values["max-receive-bytes"],
        logLevel: values["log-level"],
        shutdownGraceMs: values["shutdown-grace-ms"],
      },
      env: process.env,
    });
    const logger = createLogger({ level: config.logLevel, destination: io.stdout });
    setLogger(logger);
    routeGrpcLogs(logger);

    const model = await loadModelFile(config.modelPath);
    const holder = new ModelHolder(serveModel(model));
    const server = await startIrisServer({
      host: config.host,
      port: config.port,
      holder,
      logger,
      maxBatchRows: config.maxBatchRows,
      maxReceiveBytes: config.maxReceiveBytes,
    });
    const stopped = stopOnSignal(server, config.shutdownGraceMs, logger);
    logger.info(
      {
        address: server.address,
        host: server.host,
        port: server.port,
        model: { name: model.artifact.name, version: model.version, path: config.modelPath },
        maxBatchRows: config.maxBatchRows,
        maxReceiveBytes: config.maxReceiveBytes,
        shutdownGraceMs: config.shutdownGraceMs,
      },
      "serving",
    );
    await stopped;
    return ExitCode.OK;
  },
};

/**
 * `iris serve`: loads the model, then serves iris.v1.IrisService (with health
 * and reflection) until SIGTERM/SIGINT. Nothing listens before the model has
 * loaded and the configuration (and TLS files, when given) have been
 * checked; a bad model or TLS file or a busy port ends the command with a
 * message and exit code 1. Signal handlers are installed before any of that,
 * so a stop requested during start-up is honoured, not lost.
 */
import { DEFAULTS, loadConfig, SETTINGS, type ServerConfig } from "../../config.js";
import { createLogger } from "../../logger.js";
import { loadModelFile } from "../../model/index.js";
import { ModelHolder } from "../../server/model-holder.js";
import { serveModel } from "../../server/served-model.js";
import { routeGrpcLogs } from "../../server/grpc/server.js";
import { startIrisServer } from "../../server/server.js";
import { ShutdownSignals } from "../../server/signals.js";
import { loadServerTls, type ServerTls } from "../../server/tls.js";
import { ExitCode, parseFlags, type Command } from "../command.js";

const line = (key: keyof ServerConfig, value: string, text: string, fallback = `default ${DEFAULTS[key]}`): string =>
  `  --${`${SETTINGS[key].flag} ${value}`.padEnd(34)}${text} (${SETTINGS[key].env}, ${fallback})`;

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
    line("maxConnectionAgeMs", "MS", "GOAWAY connections this old; 0 = never", "default 0"),
    line("maxConnectionAgeGraceMs", "MS", "Then let their calls finish this long"),
    line("tlsCertPath", "FILE", "Serve TLS with this PEM certificate chain", "default: plaintext"),
    line("tlsKeyPath", "FILE", "The certificate's PEM private key", "required with --tls-cert"),
    `  ${"-h, --help".padEnd(36)}Show this help`,
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
      "max-connection-age-ms": { type: "string" },
      "max-connection-age-grace-ms": { type: "string" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
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
        maxConnectionAgeMs: values["max-connection-age-ms"],
        maxConnectionAgeGraceMs: values["max-connection-age-grace-ms"],
        tlsCertPath: values["tls-cert"],
        tlsKeyPath: values["tls-key"],
      },
      env: process.env,
    });
    const logger = createLogger({ level: config.logLevel, destination: io.stdout });
    routeGrpcLogs(logger);

    const signals = new ShutdownSignals(logger);
    try {
      logger.debug({ model: config.modelPath, tls: config.tlsCertPath !== undefined }, "starting");
      const [model, tls] = await Promise.all([
        loadModelFile(config.modelPath),
        config.tlsCertPath !== undefined && config.tlsKeyPath !== undefined
          ? loadServerTls(config.tlsCertPath, config.tlsKeyPath)
          : undefined,
      ]);
      if (signals.received !== undefined) {
        logger.info({ signal: signals.received }, "stopped before serving");
        return ExitCode.OK;
      }
      const holder = new ModelHolder(serveModel(model));
      const server = await startIrisServer({
        host: config.host,
        port: config.port,
        holder,
        logger,
        maxBatchRows: config.maxBatchRows,
        maxReceiveBytes: config.maxReceiveBytes,
        maxConnectionAgeMs: config.maxConnectionAgeMs,
        maxConnectionAgeGraceMs: config.maxConnectionAgeGraceMs,
        tls,
      });
      logger.info(
        {
          address: server.address,
          host: server.host,
          port: server.port,
          model: { name: model.artifact.name, version: model.version, path: config.modelPath },
          maxBatchRows: config.maxBatchRows,
          maxReceiveBytes: config.maxReceiveBytes,
          shutdownGraceMs: config.shutdownGraceMs,
          maxConnectionAgeMs: config.maxConnectionAgeMs,
          tls: tls === undefined ? false : tlsSummary(config.tlsCertPath!, tls),
        },
        "serving",
      );
      if (tls !== undefined && tls.certificate.validTo.getTime() < Date.now()) {
        logger.warn({ validTo: tls.certificate.validTo.toISOString() }, "the TLS certificate has expired: clients will refuse it");
      }
      // Stops at once when a signal came while the port was being bound.
      await signals.stop(server, config.shutdownGraceMs);
      return ExitCode.OK;
    } finally {
      signals.dispose();
    }
  },
};

function tlsSummary(certPath: string, tls: ServerTls): Record<string, unknown> {
  const { subject, subjectAltName, validTo } = tls.certificate;
  return { cert: certPath, subject, subjectAltName, validTo: validTo.toISOString() };
}

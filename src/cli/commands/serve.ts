/**
 * `iris serve`: loads the model, then serves iris.v1.IrisService (with health
 * and reflection) until SIGTERM/SIGINT. Nothing listens before the model has
 * loaded and the configuration (and TLS files, when given) have been
 * checked; a bad model or TLS file or a busy port ends the command with a
 * message and exit code 1. Signal handlers are installed before any of that,
 * so a stop requested during start-up is honoured, not lost.
 */
import { DEFAULTS, loadConfig, packageVersion, SETTINGS, type ServerConfig } from "../../config.js";
import { createLogger } from "../../logger.js";
import { loadModelFile, resolveModelPath } from "../../model/index.js";
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
  summary: "Serve the model over gRPC and HTTP (iris.v1, the Open Inference Protocol, /predict)",
  help: [
    "Usage: iris serve [options]",
    "",
    "Serves the model artifact until SIGTERM or SIGINT: on the gRPC port",
    "iris.v1.IrisService, inference.GRPCInferenceService (the Open Inference",
    "Protocol), grpc.health.v1 and reflection; on the HTTP port POST /predict,",
    "the Open Inference Protocol's REST binding (/v2/...), /openapi.json and",
    "/docs. At a signal it stops gracefully: readiness turns false (health",
    "NOT_SERVING, /v2/health/ready 503), new connections are refused and calls",
    "in flight get the grace period to finish. Logs are JSON lines on stdout;",
    'the first info line ("serving") gives the addresses, the bound ports and',
    "the model version. Flags override the environment variables in brackets.",
    "",
    "Options:",
    line("host", "HOST", "Interface to listen on"),
    line("port", "PORT", "gRPC port; 0 picks a free one"),
    line("httpPort", "PORT|off", "HTTP port; 0 picks a free one; off: none"),
    line("modelPath", "PATH", "Model artifact to serve, or a directory holding model.json"),
    line("modelName", "NAME", "The model's name in the Open Inference Protocol", "default: the artifact's name"),
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
    // One string flag per setting, named as SETTINGS says.
    const keys = Object.keys(SETTINGS) as (keyof ServerConfig)[];
    const { values } = parseFlags(argv, Object.fromEntries(keys.map((k) => [SETTINGS[k].flag, { type: "string" as const }])));
    const config = loadConfig({
      flags: Object.fromEntries(keys.map((k) => [k, values[SETTINGS[k].flag] as string | undefined])),
      env: process.env,
    });
    const logger = createLogger({ level: config.logLevel, destination: io.stdout });
    routeGrpcLogs(logger);

    const signals = new ShutdownSignals(logger);
    try {
      logger.debug({ model: config.modelPath, tls: config.tlsCertPath !== undefined }, "starting");
      const modelPath = await resolveModelPath(config.modelPath);
      const [model, tls] = await Promise.all([
        loadModelFile(modelPath),
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
        httpPort: config.httpPort,
        holder,
        logger,
        modelName: config.modelName,
        serverVersion: packageVersion().version,
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
          httpPort: server.httpPort ?? "off",
          model: {
            name: model.artifact.name,
            version: model.version,
            path: modelPath,
            ...(config.modelName !== undefined ? { servedAs: config.modelName } : {}),
          },
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

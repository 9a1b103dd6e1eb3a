/**
 * `iris serve`: loads the model, then serves iris.v1.IrisService (with health
 * and reflection) until SIGTERM/SIGINT. Nothing listens before the model has
 * loaded and the configuration (and TLS files, when given) have been
 * checked; a bad model or TLS file or a busy port ends the command with a
 * message and exit code 1. Signal handlers are installed before any of that,
 * so a stop requested during start-up is honoured, not lost. While it
 * serves, the model is reloaded when its file changes and on SIGHUP.
 */
import { DEFAULTS, loadConfig, packageVersion, SETTINGS, type ServerConfig } from "../../config.js";
import { createLogger } from "../../logger.js";
import { resolveModelPath } from "../../model/index.js";
import { accessLog } from "../../server/access-log.js";
import { authStage, TokenFile } from "../../server/auth.js";
import { ModelHolder } from "../../server/model-holder.js";
import { ModelReloader } from "../../server/model-reloader.js";
import { routeGrpcLogs } from "../../server/grpc/server.js";
import { startIrisServer, type ServerLimits } from "../../server/server.js";
import { IgnoredSignals, ReloadSignal, ShutdownSignals } from "../../server/signals.js";
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
    "in flight get the grace period to finish; then every connection still",
    "open is closed, whatever its client does, and the process exits 0.",
    "SIGUSR1 and SIGUSR2 are logged and ignored. The model is reloaded, without",
    "a restart, when its file changes and on SIGHUP: the new file is fully",
    "checked first, and a bad one is refused while the old model keeps serving.",
    "GET /metrics on the HTTP port serves Prometheus metrics. Logs are JSON",
    'lines on stdout; the first info line ("serving") gives the addresses, the',
    "bound ports and the model version. Flags override the environment",
    "variables in brackets. Limits, tokens and mutual TLS: docs/security.md.",
    "",
    "Exit codes: 0 stopped by a signal; 1 could not start (bad model,",
    "configuration or TLS file, port in use).",
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
    line("tlsClientCaPath", "FILE", "Require client certificates signed by this PEM CA (mTLS)", "default: none asked"),
    line("tokenFile", "FILE", "Require a bearer token listed in this file, one a line", "default: none asked"),
    line("maxConnections", "N", "Open connections per port; further ones are closed"),
    line("maxConcurrentStreams", "N", "Calls at once on one gRPC connection"),
    line("maxConcurrentCalls", "N", "Calls at once in the process; further ones are shed"),
    line("maxInflightBytes", "N", "Request bytes in progress in the process; beyond, shed"),
    line("maxUnreadBytesPerConnection", "N", "Unread answer bytes before a connection's calls are refused"),
    line("maxUnreadBytes", "N", "Unread answer bytes in all before the worst reader is closed"),
    line("requestTimeoutMs", "MS", "Time a request may take to arrive in full"),
    line("idleTimeoutMs", "MS", "Close a gRPC connection without calls this long; 0 = never"),
    line("keepaliveTimeMs", "MS", "Ping each gRPC connection this often; 0 = never"),
    line("keepaliveTimeoutMs", "MS", "Close a connection whose ping is not answered within this"),
    line("httpKeepAliveTimeoutMs", "MS", "Close an idle HTTP keep-alive connection after this"),
    line("modelPollIntervalMs", "DURATION|off", "Check the model file this often (500ms, 2s)", "default 2s"),
    line("metrics", "on|off", "Prometheus metrics at GET /metrics", "default on"),
    `  --${SETTINGS.accessLog.flag.padEnd(34)}One JSON line per call (${SETTINGS.accessLog.env}=true, default off)`,
    `  ${"-h, --help".padEnd(36)}Show this help`,
    "",
  ].join("\n"),

  async run(argv, io) {
    // One flag per setting, named as SETTINGS says: a string, or a switch without a value.
    const keys = Object.keys(SETTINGS) as (keyof ServerConfig)[];
    const { values } = parseFlags(
      argv,
      Object.fromEntries(keys.map((k) => [SETTINGS[k].flag, { type: SETTINGS[k].switch ? ("boolean" as const) : ("string" as const) }])),
    );
    const config = loadConfig({
      flags: Object.fromEntries(
        keys.map((k) => {
          const value = values[SETTINGS[k].flag] as string | boolean | undefined;
          return [k, value === undefined ? undefined : String(value)];
        }),
      ),
      env: process.env,
    });
    const logger = createLogger({ level: config.logLevel, destination: io.stdout });
    routeGrpcLogs(logger);

    const signals = new ShutdownSignals(logger);
    let tokens: TokenFile | undefined;
    const reloadSignal = new ReloadSignal(logger);
    const ignoredSignals = new IgnoredSignals(logger);
    try {
      logger.debug({ model: config.modelPath, tls: config.tlsCertPath !== undefined }, "starting");
      const modelPath = await resolveModelPath(config.modelPath);
      const holder = new ModelHolder();
      const reloader = new ModelReloader({
        path: modelPath,
        holder,
        logger,
        pollIntervalMs: config.modelPollIntervalMs,
        modelName: config.modelName,
      });
      const [{ model }, tls, tokenFile] = await Promise.all([
        reloader.load(),
        config.tlsCertPath !== undefined && config.tlsKeyPath !== undefined
          ? loadServerTls(config.tlsCertPath, config.tlsKeyPath, config.tlsClientCaPath)
          : undefined,
        config.tokenFile !== undefined ? TokenFile.open(config.tokenFile, logger) : undefined,
      ]);
      tokens = tokenFile;
      const auth = tokens !== undefined || tls?.clientCa !== undefined ? authStage({ tokens, clientCertificates: tls?.clientCa !== undefined }) : undefined;
      if (signals.received !== undefined) {
        logger.info({ signal: signals.received }, "stopped before serving");
        return ExitCode.OK;
      }
      const limits: ServerLimits = {
        maxConnections: config.maxConnections,
        maxConcurrentStreams: config.maxConcurrentStreams,
        maxConcurrentCalls: config.maxConcurrentCalls,
        maxInflightBytes: config.maxInflightBytes,
        maxUnreadBytesPerConnection: config.maxUnreadBytesPerConnection,
        maxUnreadBytes: config.maxUnreadBytes,
        requestTimeoutMs: config.requestTimeoutMs,
        idleTimeoutMs: config.idleTimeoutMs,
        keepaliveTimeMs: config.keepaliveTimeMs,
        keepaliveTimeoutMs: config.keepaliveTimeoutMs,
        httpKeepAliveTimeoutMs: config.httpKeepAliveTimeoutMs,
      };
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
        metrics: config.metrics,
        stages: config.accessLog ? [accessLog(logger)] : [],
        limits,
        auth,
        reloader,
      });
      reloadSignal.handle(() => reloader.reload("SIGHUP"));
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
          modelPollIntervalMs: config.modelPollIntervalMs,
          metrics: config.metrics,
          accessLog: config.accessLog,
          limits: server.limits,
          auth: { tokens: tokens === undefined ? false : { file: config.tokenFile, count: tokens.count }, clientCertificates: tls?.clientCa !== undefined },
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
      tokens?.close();
      signals.dispose();
      reloadSignal.dispose();
      ignoredSignals.dispose();
    }
  },
};

function tlsSummary(certPath: string, tls: ServerTls): Record<string, unknown> {
  const { subject, subjectAltName, validTo } = tls.certificate;
  return { cert: certPath, subject, subjectAltName, validTo: validTo.toISOString() };
}

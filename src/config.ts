/**
 * The one configuration reader of the server and the CLI. Command-line flags
 * override `IRIS_*` environment variables, which override the defaults.
 * Everything is checked once, up front: the first bad value is an IrisError
 * (INVALID_ARGUMENT) naming the flag or variable, what it must be and what it
 * was; the result is a fully filled, frozen object.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Code, IrisError } from "./errors.js";
import { DEFAULT_GRPC_PORT } from "./rpc/defaults.js";

/** Log levels, most to least severe; `silent` turns logging off. */
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ServerConfig {
  /** Interface to listen on. */
  readonly host: string;
  /** gRPC port; 0 picks a free one (the start log line reports it). */
  readonly port: number;
  /** HTTP port (`/predict`, the Open Inference Protocol's REST binding); 0 picks a free one; undefined: off. */
  readonly httpPort: number | undefined;
  /** Path of the model artifact to serve, or of a directory holding model.json (default: see defaultModelPath). */
  readonly modelPath: string;
  /** The model's name in the Open Inference Protocol; undefined: the artifact's name. */
  readonly modelName: string | undefined;
  /** Largest BatchPredict batch, in rows; larger ones get RESOURCE_EXHAUSTED. */
  readonly maxBatchRows: number;
  /** Largest request message, in bytes; larger ones get RESOURCE_EXHAUSTED. */
  readonly maxReceiveBytes: number;
  readonly logLevel: LogLevel;
  /** How long in-flight calls may run after SIGTERM/SIGINT before they are cut off. */
  readonly shutdownGraceMs: number;
  /**
   * Connections older than this (±10 % jitter) get GOAWAY, so clients
   * reconnect and re-resolve the server's name; 0 = never.
   */
  readonly maxConnectionAgeMs: number;
  /** After a max-age GOAWAY, how long calls on the old connection may run before it is closed. */
  readonly maxConnectionAgeGraceMs: number;
  /** PEM certificate chain to serve TLS with; plaintext when absent (set together with tlsKeyPath). */
  readonly tlsCertPath: string | undefined;
  /** PEM private key of tlsCertPath's certificate. */
  readonly tlsKeyPath: string | undefined;
  /**
   * PEM CA certificate(s) that client certificates must chain to (mutual
   * TLS; needs tlsCertPath): calls without a verified client certificate
   * are refused (UNAUTHENTICATED / 401), except health and readiness.
   */
  readonly tlsClientCaPath: string | undefined;
  /**
   * File of bearer tokens, one a line (reread when it changes): calls without
   * one of them are refused (UNAUTHENTICATED / 401), except health and
   * readiness.
   */
  readonly tokenFile: string | undefined;
  /** Open connections per port; further ones are closed at once. */
  readonly maxConnections: number;
  /** Calls at once on one gRPC connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS). */
  readonly maxConcurrentStreams: number;
  /** Calls in progress at once, both ports together (health and readiness aside); further ones are shed. */
  readonly maxConcurrentCalls: number;
  /** Request bytes being received or handled at once, both ports together; beyond, calls are shed. */
  readonly maxInflightBytes: number;
  /** Answer bytes a gRPC connection has not read yet above which its new calls are refused. */
  readonly maxUnreadBytesPerConnection: number;
  /** Answer bytes not read yet by all gRPC connections together above which the worst reader is disconnected. */
  readonly maxUnreadBytes: number;
  /** How long a request may take to arrive in full (gRPC message, HTTP headers and body). */
  readonly requestTimeoutMs: number;
  /** A gRPC connection without calls for this long is closed (GOAWAY); 0 = never. */
  readonly idleTimeoutMs: number;
  /** How often the server pings each gRPC connection; 0 = never. */
  readonly keepaliveTimeMs: number;
  /** A gRPC connection that does not answer a ping within this is closed. */
  readonly keepaliveTimeoutMs: number;
  /** An HTTP keep-alive connection idle for this long is closed. */
  readonly httpKeepAliveTimeoutMs: number;
  /** How often the model file is checked for a new model, in milliseconds; 0: never (SIGHUP still reloads). */
  readonly modelPollIntervalMs: number;
  /** Count calls and predictions, and serve them at `GET /metrics` on the HTTP port. */
  readonly metrics: boolean;
  /** One JSON line per call (request id, API, method or route, status, duration, rows, model version). */
  readonly accessLog: boolean;
}

/**
 * 100 000 rows: about 3.8 MB of request and 2.5 MB of response, a few tens of
 * milliseconds of work; big enough for bulk scoring, small enough that one
 * call cannot hog the server.
 */
export const DEFAULT_MAX_BATCH_ROWS = 100_000;
/** 8 MiB: room for a full 100 000-row batch (~3.8 MB) with margin. */
export const DEFAULT_MAX_RECEIVE_BYTES = 8 * 1024 * 1024;

const MIB = 1024 * 1024;

/** The model artifact looked for in the working directory when no path is given. */
export const DEFAULT_MODEL_PATH = "artifacts/model.json";
/**
 * This package's root directory, where its package.json is: found by
 * climbing from this module, so that it holds from src/, from dist/ and
 * from the bundled CLI (dist/cli/main.js) alike.
 */
const PACKAGE_ROOT = ((): string => {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (existsSync(file) && (JSON.parse(readFileSync(file, "utf8")) as { name?: string }).name === "iris-serve") return dir;
    if (dirname(dir) === dir) return resolve(start, "..");
  }
})();

/** This package's name and version, from its package.json. */
export function packageVersion(): { name: string; version: string } {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as { name?: string; version?: string };
  return { name: pkg.name ?? "iris-serve", version: pkg.version ?? "unknown" };
}

/** The model artifact this package ships: artifacts/model.json at the package root. */
export const PACKAGED_MODEL_PATH = join(PACKAGE_ROOT, "artifacts", "model.json");

/** The web console's bundled script, as `npm run build` writes it (see scripts/build.mjs). */
export const CONSOLE_SCRIPT_PATH = join(PACKAGE_ROOT, "dist", "console", "console.js");

/**
 * The model to use when neither --model nor IRIS_MODEL names one:
 * `artifacts/model.json` in the working directory (`cwd`) when it exists
 * (a checkout, or a directory the trainer wrote into), else the model this
 * package ships (an installed `iris` run from anywhere).
 */
export function defaultModelPath(cwd: string = process.cwd()): string {
  return existsSync(resolve(cwd, DEFAULT_MODEL_PATH)) ? DEFAULT_MODEL_PATH : PACKAGED_MODEL_PATH;
}

/** What `--help` texts say of the default model path. */
export const DEFAULT_MODEL_HELP = `${DEFAULT_MODEL_PATH} if it exists, else the model the package ships`;

/** The defaults; `modelPath` is DEFAULT_MODEL_PATH here, resolved by defaultModelPath() when read. */
export const DEFAULTS: ServerConfig = Object.freeze({
  host: "0.0.0.0",
  port: DEFAULT_GRPC_PORT,
  httpPort: 8080,
  modelPath: DEFAULT_MODEL_PATH,
  modelName: undefined,
  maxBatchRows: DEFAULT_MAX_BATCH_ROWS,
  maxReceiveBytes: DEFAULT_MAX_RECEIVE_BYTES,
  logLevel: "info",
  shutdownGraceMs: 10_000,
  maxConnectionAgeMs: 0,
  maxConnectionAgeGraceMs: 10_000,
  tlsCertPath: undefined,
  tlsKeyPath: undefined,
  tlsClientCaPath: undefined,
  tokenFile: undefined,
  // The limits below keep a pod with a 256 MiB memory limit (V8 heap 192 MB)
  // alive whatever clients do; docs/security.md gives the reasoning.
  maxConnections: 500,
  maxConcurrentStreams: 100,
  maxConcurrentCalls: 256,
  maxInflightBytes: 32 * MIB,
  maxUnreadBytesPerConnection: 8 * MIB,
  maxUnreadBytes: 32 * MIB,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 300_000,
  keepaliveTimeMs: 30_000,
  keepaliveTimeoutMs: 10_000,
  httpKeepAliveTimeoutMs: 5_000,
  modelPollIntervalMs: 2_000,
  metrics: true,
  accessLog: false,
});

/** Longest max connection age and age grace period: one day. */
const MAX_CONNECTION_AGE_LIMIT_MS = 86_400_000;
/** Longest request, idle and keepalive timeout: one day. */
const TIMEOUT_LIMIT_MS = 86_400_000;

/** Shortest and longest model poll interval: 100 ms, one hour. */
const MIN_POLL_INTERVAL_MS = 100;
const MAX_POLL_INTERVAL_MS = 3_600_000;

/**
 * The flag and environment variable of each setting. A `switch` is a flag
 * without a value (`--access-log`); its variable takes true/false, on/off,
 * yes/no or 1/0.
 */
export const SETTINGS: Readonly<Record<keyof ServerConfig, { flag: string; env: string; switch?: true }>> = Object.freeze({
  host: { flag: "host", env: "IRIS_HOST" },
  port: { flag: "port", env: "IRIS_PORT" },
  httpPort: { flag: "http-port", env: "IRIS_HTTP_PORT" },
  modelPath: { flag: "model", env: "IRIS_MODEL" },
  modelName: { flag: "model-name", env: "IRIS_MODEL_NAME" },
  maxBatchRows: { flag: "max-batch-rows", env: "IRIS_MAX_BATCH_ROWS" },
  maxReceiveBytes: { flag: "max-receive-bytes", env: "IRIS_MAX_RECEIVE_BYTES" },
  logLevel: { flag: "log-level", env: "IRIS_LOG_LEVEL" },
  shutdownGraceMs: { flag: "shutdown-grace-ms", env: "IRIS_SHUTDOWN_GRACE_MS" },
  maxConnectionAgeMs: { flag: "max-connection-age-ms", env: "IRIS_MAX_CONNECTION_AGE_MS" },
  maxConnectionAgeGraceMs: { flag: "max-connection-age-grace-ms", env: "IRIS_MAX_CONNECTION_AGE_GRACE_MS" },
  tlsCertPath: { flag: "tls-cert", env: "IRIS_TLS_CERT" },
  tlsKeyPath: { flag: "tls-key", env: "IRIS_TLS_KEY" },
  tlsClientCaPath: { flag: "tls-client-ca", env: "IRIS_TLS_CLIENT_CA" },
  tokenFile: { flag: "token-file", env: "IRIS_TOKEN_FILE" },
  maxConnections: { flag: "max-connections", env: "IRIS_MAX_CONNECTIONS" },
  maxConcurrentStreams: { flag: "max-concurrent-streams", env: "IRIS_MAX_CONCURRENT_STREAMS" },
  maxConcurrentCalls: { flag: "max-concurrent-calls", env: "IRIS_MAX_CONCURRENT_CALLS" },
  maxInflightBytes: { flag: "max-inflight-bytes", env: "IRIS_MAX_INFLIGHT_BYTES" },
  maxUnreadBytesPerConnection: { flag: "max-unread-bytes-per-connection", env: "IRIS_MAX_UNREAD_BYTES_PER_CONNECTION" },
  maxUnreadBytes: { flag: "max-unread-bytes", env: "IRIS_MAX_UNREAD_BYTES" },
  requestTimeoutMs: { flag: "request-timeout-ms", env: "IRIS_REQUEST_TIMEOUT_MS" },
  idleTimeoutMs: { flag: "idle-timeout-ms", env: "IRIS_IDLE_TIMEOUT_MS" },
  keepaliveTimeMs: { flag: "keepalive-time-ms", env: "IRIS_KEEPALIVE_TIME_MS" },
  keepaliveTimeoutMs: { flag: "keepalive-timeout-ms", env: "IRIS_KEEPALIVE_TIMEOUT_MS" },
  httpKeepAliveTimeoutMs: { flag: "http-keep-alive-timeout-ms", env: "IRIS_HTTP_KEEP_ALIVE_TIMEOUT_MS" },
  modelPollIntervalMs: { flag: "model-poll-interval", env: "IRIS_MODEL_POLL_INTERVAL" },
  metrics: { flag: "metrics", env: "IRIS_METRICS" },
  accessLog: { flag: "access-log", env: "IRIS_ACCESS_LOG", switch: true },
});

export interface ConfigSources {
  /** Raw flag values by setting; undefined = not given. */
  flags?: Partial<Record<keyof ServerConfig, string | undefined>>;
  /** The environment (process.env); an empty variable counts as unset. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Where a relative default is looked for (defaultModelPath); process.cwd() by default. */
  cwd?: string;
}

/** A raw value and where it came from, for error messages. */
interface Raw {
  value: string;
  source: string;
}

function invalid(raw: Raw, expectation: string): IrisError {
  return new IrisError(Code.INVALID_ARGUMENT, `${raw.source} must be ${expectation}, got ${JSON.stringify(raw.value)}`);
}

function integer(raw: Raw | undefined, fallback: number, min: number, max: number, or?: string): number {
  if (raw === undefined) return fallback;
  const text = raw.value.trim();
  const value = /^[+-]?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(raw, `a whole number from ${min} to ${max}${or === undefined ? "" : ` or ${or}`}`);
  }
  return value;
}

/** On and off, as a switch's variable or `--metrics` may say them. */
const ON = /^(true|on|yes|1)$/i;
const OFF = /^(false|off|no|0)$/i;

function toggle(raw: Raw | undefined, fallback: boolean): boolean {
  if (raw === undefined) return fallback;
  const text = raw.value.trim();
  if (ON.test(text)) return true;
  if (OFF.test(text)) return false;
  throw invalid(raw, "on or off (true/false, yes/no, 1/0)");
}

/**
 * A duration in milliseconds: `500`, `500ms`, `2s`, `1m`; `0` or `off`
 * for never. Otherwise from `min` to `max` milliseconds.
 */
function duration(raw: Raw | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const text = raw.value.trim();
  if (OFF.test(text)) return 0;
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(text);
  const ms = match ? Math.round(Number(match[1]) * { ms: 1, s: 1000, m: 60_000 }[match[2] as "ms" | "s" | "m" ?? "ms"]) : NaN;
  if (!(ms === 0 || (ms >= min && ms <= max))) {
    throw invalid(raw, `a duration from ${min} ms to ${max / 60_000} minutes (500ms, 2s, 1m; a bare number is milliseconds) or off`);
  }
  return ms;
}

/** `--http-port off` (or IRIS_HTTP_PORT=off) turns the HTTP server off. */
const HTTP_OFF = /^off$/i;
/** A model name as it appears in URL paths (/v2/models/{name}) and KServe resource names. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

/** The raw value of one setting: its flag, else its variable, else undefined. */
function rawSetting(key: keyof ServerConfig, { flags = {}, env = {} }: ConfigSources): Raw | undefined {
  const { flag, env: name } = SETTINGS[key];
  const fromFlag = flags[key];
  if (fromFlag !== undefined) return { value: fromFlag, source: `--${flag}` };
  const fromEnv = env[name];
  if (fromEnv !== undefined && fromEnv !== "") return { value: fromEnv, source: name };
  return undefined;
}

/**
 * Reads the model path alone, for commands that only load a model
 * (`iris predict`, `iris info`): --model, else IRIS_MODEL, else
 * defaultModelPath(). Throws IrisError (INVALID_ARGUMENT) on an empty path.
 */
export function loadModelPath(sources: ConfigSources = {}): string {
  const modelRaw = rawSetting("modelPath", sources);
  if (modelRaw === undefined) return defaultModelPath(sources.cwd);
  if (modelRaw.value.trim() === "") throw invalid(modelRaw, "the path of a model artifact");
  return modelRaw.value;
}

/** Reads and validates the server configuration. Throws IrisError (INVALID_ARGUMENT). */
export function loadConfig(sources: ConfigSources = {}): ServerConfig {
  const raw = (key: keyof ServerConfig): Raw | undefined => rawSetting(key, sources);

  const hostRaw = raw("host");
  const host = hostRaw === undefined ? DEFAULTS.host : hostRaw.value.trim();
  if (hostRaw && (host === "" || /\s/.test(host))) throw invalid(hostRaw, "a host name or IP address");

  const modelPath = loadModelPath(sources);

  const httpRaw = raw("httpPort");
  const httpOff = httpRaw !== undefined && HTTP_OFF.test(httpRaw.value.trim());

  const nameRaw = raw("modelName");
  const modelName = nameRaw?.value.trim();
  if (nameRaw && !MODEL_NAME.test(modelName!)) {
    throw invalid(nameRaw, "a model name of letters, digits, '.', '_' and '-', starting with a letter or digit, at most 253 characters");
  }

  const levelRaw = raw("logLevel");
  const level = levelRaw === undefined ? DEFAULTS.logLevel : levelRaw.value.trim().toLowerCase();
  if (levelRaw && !(LOG_LEVELS as readonly string[]).includes(level)) {
    throw invalid(levelRaw, `one of ${LOG_LEVELS.join(", ")}`);
  }

  const certRaw = raw("tlsCertPath");
  const keyRaw = raw("tlsKeyPath");
  for (const r of [certRaw, keyRaw]) if (r && r.value.trim() === "") throw invalid(r, "the path of a PEM file");
  if ((certRaw === undefined) !== (keyRaw === undefined)) {
    const [given, missing] = certRaw ? [certRaw, SETTINGS.tlsKeyPath] : [keyRaw!, SETTINGS.tlsCertPath];
    throw new IrisError(
      Code.INVALID_ARGUMENT,
      `${given.source} needs --${missing.flag} (${missing.env}) too: TLS takes a certificate and its private key`,
    );
  }

  const clientCaRaw = raw("tlsClientCaPath");
  if (clientCaRaw && clientCaRaw.value.trim() === "") throw invalid(clientCaRaw, "the path of a PEM file");
  if (clientCaRaw && certRaw === undefined) {
    throw new IrisError(
      Code.INVALID_ARGUMENT,
      `${clientCaRaw.source} needs --${SETTINGS.tlsCertPath.flag} and --${SETTINGS.tlsKeyPath.flag}: client certificates are checked over TLS`,
    );
  }
  const tokenRaw = raw("tokenFile");
  if (tokenRaw && tokenRaw.value.trim() === "") throw invalid(tokenRaw, "the path of a token file");

  const maxReceiveBytes = integer(raw("maxReceiveBytes"), DEFAULTS.maxReceiveBytes, 1024, 2 ** 31 - 1);
  const inflightRaw = raw("maxInflightBytes");
  const maxInflightBytes = integer(inflightRaw, DEFAULTS.maxInflightBytes, 1024, Number.MAX_SAFE_INTEGER);
  if (maxInflightBytes < maxReceiveBytes) {
    throw new IrisError(
      Code.INVALID_ARGUMENT,
      `${inflightRaw?.source ?? `--${SETTINGS.maxInflightBytes.flag}`} (${maxInflightBytes}) must be at least ` +
        `--${SETTINGS.maxReceiveBytes.flag} (${maxReceiveBytes}): a request of the largest size must fit`,
    );
  }
  const requestTimeoutMs = integer(raw("requestTimeoutMs"), DEFAULTS.requestTimeoutMs, 100, TIMEOUT_LIMIT_MS);

  return Object.freeze({
    host,
    port: integer(raw("port"), DEFAULTS.port, 0, 65_535),
    httpPort: httpOff ? undefined : integer(httpRaw, DEFAULTS.httpPort!, 0, 65_535, '"off"'),
    modelPath,
    modelName,
    maxBatchRows: integer(raw("maxBatchRows"), DEFAULTS.maxBatchRows, 1, 10_000_000),
    // grpc-js takes a signed 32-bit limit.
    maxReceiveBytes,
    logLevel: level as LogLevel,
    shutdownGraceMs: integer(raw("shutdownGraceMs"), DEFAULTS.shutdownGraceMs, 0, 10 * 60_000),
    maxConnectionAgeMs: integer(raw("maxConnectionAgeMs"), DEFAULTS.maxConnectionAgeMs, 0, MAX_CONNECTION_AGE_LIMIT_MS),
    maxConnectionAgeGraceMs: integer(
      raw("maxConnectionAgeGraceMs"),
      DEFAULTS.maxConnectionAgeGraceMs,
      0,
      MAX_CONNECTION_AGE_LIMIT_MS,
    ),
    tlsCertPath: certRaw?.value,
    tlsKeyPath: keyRaw?.value,
    tlsClientCaPath: clientCaRaw?.value,
    tokenFile: tokenRaw?.value,
    maxConnections: integer(raw("maxConnections"), DEFAULTS.maxConnections, 1, 1_000_000),
    maxConcurrentStreams: integer(raw("maxConcurrentStreams"), DEFAULTS.maxConcurrentStreams, 1, 1_000_000),
    maxConcurrentCalls: integer(raw("maxConcurrentCalls"), DEFAULTS.maxConcurrentCalls, 1, 1_000_000),
    maxInflightBytes,
    maxUnreadBytesPerConnection: integer(raw("maxUnreadBytesPerConnection"), DEFAULTS.maxUnreadBytesPerConnection, 1024, Number.MAX_SAFE_INTEGER),
    maxUnreadBytes: integer(raw("maxUnreadBytes"), DEFAULTS.maxUnreadBytes, 1024, Number.MAX_SAFE_INTEGER),
    requestTimeoutMs,
    idleTimeoutMs: integer(raw("idleTimeoutMs"), DEFAULTS.idleTimeoutMs, 0, TIMEOUT_LIMIT_MS),
    keepaliveTimeMs: integer(raw("keepaliveTimeMs"), DEFAULTS.keepaliveTimeMs, 0, TIMEOUT_LIMIT_MS),
    keepaliveTimeoutMs: integer(raw("keepaliveTimeoutMs"), DEFAULTS.keepaliveTimeoutMs, 100, TIMEOUT_LIMIT_MS),
    httpKeepAliveTimeoutMs: integer(raw("httpKeepAliveTimeoutMs"), DEFAULTS.httpKeepAliveTimeoutMs, 100, TIMEOUT_LIMIT_MS),
    modelPollIntervalMs: duration(raw("modelPollIntervalMs"), DEFAULTS.modelPollIntervalMs, MIN_POLL_INTERVAL_MS, MAX_POLL_INTERVAL_MS),
    metrics: toggle(raw("metrics"), DEFAULTS.metrics),
    accessLog: toggle(raw("accessLog"), DEFAULTS.accessLog),
  });
}

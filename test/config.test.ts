import { describe, expect, it } from "vitest";
import { DEFAULTS, DEFAULT_MAX_BATCH_ROWS, DEFAULT_MAX_RECEIVE_BYTES, loadConfig } from "../src/config.js";
import { Code, IrisError } from "../src/errors.js";

function failure(fn: () => unknown): IrisError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(IrisError);
    return err as IrisError;
  }
  throw new Error("expected an error");
}

describe("loadConfig", () => {
  it("fills every setting with its default when nothing is given", () => {
    expect(loadConfig({ env: {} })).toEqual({
      host: "0.0.0.0",
      port: 50051,
      httpPort: 8080,
      modelPath: "artifacts/model.json",
      modelName: undefined,
      maxBatchRows: DEFAULT_MAX_BATCH_ROWS,
      maxReceiveBytes: DEFAULT_MAX_RECEIVE_BYTES,
      logLevel: "info",
      shutdownGraceMs: 10_000,
      maxConnectionAgeMs: 0,
      maxConnectionAgeGraceMs: 10_000,
      tlsCertPath: undefined,
      tlsKeyPath: undefined,
      modelPollIntervalMs: 2000,
      metrics: true,
      accessLog: false,
      tlsClientCaPath: undefined,
      tokenFile: undefined,
      maxConnections: 500,
      maxConcurrentStreams: 100,
      maxConcurrentCalls: 256,
      maxInflightBytes: 32 * 1024 * 1024,
      maxUnreadBytesPerConnection: 8 * 1024 * 1024,
      maxUnreadBytes: 32 * 1024 * 1024,
      requestTimeoutMs: 30_000,
      idleTimeoutMs: 300_000,
      keepaliveTimeMs: 30_000,
      keepaliveTimeoutMs: 10_000,
      httpKeepAliveTimeoutMs: 5_000,
    });
    expect(loadConfig()).toEqual(DEFAULTS);
    expect(DEFAULT_MAX_RECEIVE_BYTES).toBeGreaterThan(DEFAULT_MAX_BATCH_ROWS * 38);
  });

  it("reads IRIS_* variables, and flags override them", () => {
    const env = {
      IRIS_HOST: "127.0.0.1",
      IRIS_PORT: "6000",
      IRIS_HTTP_PORT: "6001",
      IRIS_MODEL: "/models/m.json",
      IRIS_MODEL_NAME: "iris",
      IRIS_MAX_BATCH_ROWS: "500",
      IRIS_MAX_RECEIVE_BYTES: "65536",
      IRIS_LOG_LEVEL: "DEBUG",
      IRIS_SHUTDOWN_GRACE_MS: "250",
      IRIS_MAX_CONNECTION_AGE_MS: "300000",
      IRIS_MAX_CONNECTION_AGE_GRACE_MS: "5000",
      IRIS_TLS_CERT: "/tls/cert.pem",
      IRIS_TLS_KEY: "/tls/key.pem",
      IRIS_MODEL_POLL_INTERVAL: "5s",
      IRIS_METRICS: "off",
      IRIS_ACCESS_LOG: "true",
      IRIS_TLS_CLIENT_CA: "/tls/clients.pem",
      IRIS_TOKEN_FILE: "/secrets/tokens",
      IRIS_MAX_CONNECTIONS: "10",
      IRIS_MAX_CONCURRENT_STREAMS: "11",
      IRIS_MAX_CONCURRENT_CALLS: "12",
      IRIS_MAX_INFLIGHT_BYTES: "70000",
      IRIS_MAX_UNREAD_BYTES_PER_CONNECTION: "2048",
      IRIS_MAX_UNREAD_BYTES: "4096",
      IRIS_REQUEST_TIMEOUT_MS: "1000",
      IRIS_IDLE_TIMEOUT_MS: "0",
      IRIS_KEEPALIVE_TIME_MS: "0",
      IRIS_KEEPALIVE_TIMEOUT_MS: "500",
      IRIS_HTTP_KEEP_ALIVE_TIMEOUT_MS: "700",
    };
    expect(loadConfig({ env })).toEqual({
      host: "127.0.0.1",
      port: 6000,
      httpPort: 6001,
      modelPath: "/models/m.json",
      modelName: "iris",
      maxBatchRows: 500,
      maxReceiveBytes: 65536,
      logLevel: "debug",
      shutdownGraceMs: 250,
      maxConnectionAgeMs: 300_000,
      maxConnectionAgeGraceMs: 5000,
      tlsCertPath: "/tls/cert.pem",
      tlsKeyPath: "/tls/key.pem",
      modelPollIntervalMs: 5000,
      metrics: false,
      accessLog: true,
      tlsClientCaPath: "/tls/clients.pem",
      tokenFile: "/secrets/tokens",
      maxConnections: 10,
      maxConcurrentStreams: 11,
      maxConcurrentCalls: 12,
      maxInflightBytes: 70000,
      maxUnreadBytesPerConnection: 2048,
      maxUnreadBytes: 4096,
      requestTimeoutMs: 1000,
      idleTimeoutMs: 0,
      keepaliveTimeMs: 0,
      keepaliveTimeoutMs: 500,
      httpKeepAliveTimeoutMs: 700,
    });
    const config = loadConfig({ env, flags: { port: "0", host: "::", logLevel: "warn", maxBatchRows: undefined } });
    expect(config).toMatchObject({ port: 0, host: "::", logLevel: "warn", maxBatchRows: 500 });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("turns the HTTP server off with --http-port off, in any case", () => {
    expect(loadConfig({ flags: { httpPort: "off" } }).httpPort).toBeUndefined();
    expect(loadConfig({ env: { IRIS_HTTP_PORT: "OFF" } }).httpPort).toBeUndefined();
    expect(loadConfig({ env: { IRIS_HTTP_PORT: "off" }, flags: { httpPort: "0" } }).httpPort).toBe(0);
  });

  it("reads the model poll interval as a duration, a bare number in milliseconds, or off", () => {
    const interval = (value: string) => loadConfig({ flags: { modelPollIntervalMs: value } }).modelPollIntervalMs;
    expect([interval("500ms"), interval("2s"), interval("1.5s"), interval("1m"), interval("250"), interval(" 3 s ")]).toEqual([
      500, 2000, 1500, 60_000, 250, 3000,
    ]);
    expect([interval("off"), interval("OFF"), interval("0")]).toEqual([0, 0, 0]);
  });

  it("reads on/off settings in the usual spellings", () => {
    for (const on of ["true", "on", "yes", "1", "TRUE", " On "]) {
      expect(loadConfig({ env: { IRIS_ACCESS_LOG: on, IRIS_METRICS: on } })).toMatchObject({ accessLog: true, metrics: true });
    }
    for (const off of ["false", "off", "no", "0", "Off"]) {
      expect(loadConfig({ env: { IRIS_ACCESS_LOG: off, IRIS_METRICS: off } })).toMatchObject({ accessLog: false, metrics: false });
    }
    // The flag wins over the variable.
    expect(loadConfig({ env: { IRIS_METRICS: "off" }, flags: { metrics: "on" } }).metrics).toBe(true);
  });

  it("refuses a client CA without a server certificate, and request bytes in progress below one request", () => {
    expect(() => loadConfig({ flags: { tlsClientCaPath: "ca.pem" } })).toThrow(
      "--tls-client-ca needs --tls-cert and --tls-key: client certificates are checked over TLS",
    );
    expect(() => loadConfig({ env: { IRIS_MAX_INFLIGHT_BYTES: "2048", IRIS_MAX_RECEIVE_BYTES: "4096" } })).toThrow(
      "IRIS_MAX_INFLIGHT_BYTES (2048) must be at least --max-receive-bytes (4096): a request of the largest size must fit",
    );
  });

  it("treats an empty variable as unset", () => {
    expect(loadConfig({ env: { IRIS_PORT: "", IRIS_LOG_LEVEL: "" } })).toMatchObject({ port: 50051, logLevel: "info" });
  });

  it.each([
    [{ env: { IRIS_PORT: "abc" } }, 'IRIS_PORT must be a whole number from 0 to 65535, got "abc"'],
    [{ flags: { port: "65536" } }, '--port must be a whole number from 0 to 65535, got "65536"'],
    [{ flags: { port: "80.5" } }, '--port must be a whole number from 0 to 65535, got "80.5"'],
    [{ flags: { httpPort: "none" } }, '--http-port must be a whole number from 0 to 65535 or "off", got "none"'],
    [{ env: { IRIS_HTTP_PORT: "70000" } }, 'IRIS_HTTP_PORT must be a whole number from 0 to 65535 or "off", got "70000"'],
    [
      { flags: { modelName: "iris/v2" } },
      "--model-name must be a model name of letters, digits, '.', '_' and '-', starting with a letter or digit, at most 253 characters, got \"iris/v2\"",
    ],
    [{ flags: { port: "" } }, '--port must be a whole number from 0 to 65535, got ""'],
    [{ env: { IRIS_MAX_BATCH_ROWS: "0" } }, 'IRIS_MAX_BATCH_ROWS must be a whole number from 1 to 10000000, got "0"'],
    [{ flags: { maxReceiveBytes: "1e6" } }, '--max-receive-bytes must be a whole number from 1024 to 2147483647, got "1e6"'],
    [{ env: { IRIS_SHUTDOWN_GRACE_MS: "-1" } }, 'IRIS_SHUTDOWN_GRACE_MS must be a whole number from 0 to 600000, got "-1"'],
    [{ env: { IRIS_LOG_LEVEL: "loud" } }, 'IRIS_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"'],
    [{ flags: { host: "my host" } }, '--host must be a host name or IP address, got "my host"'],
    [{ flags: { modelPath: " " } }, '--model must be the path of a model artifact, got " "'],
    [{ env: { IRIS_MAX_CONNECTION_AGE_MS: "5m" } }, 'IRIS_MAX_CONNECTION_AGE_MS must be a whole number from 0 to 86400000, got "5m"'],
    [{ flags: { maxConnectionAgeGraceMs: "-1" } }, '--max-connection-age-grace-ms must be a whole number from 0 to 86400000, got "-1"'],
    [{ flags: { tlsCertPath: "cert.pem" } }, "--tls-cert needs --tls-key (IRIS_TLS_KEY) too: TLS takes a certificate and its private key"],
    [{ env: { IRIS_TLS_KEY: "key.pem" } }, "IRIS_TLS_KEY needs --tls-cert (IRIS_TLS_CERT) too: TLS takes a certificate and its private key"],
    [{ flags: { tlsCertPath: " ", tlsKeyPath: "key.pem" } }, '--tls-cert must be the path of a PEM file, got " "'],
    [
      { flags: { modelPollIntervalMs: "50ms" } },
      '--model-poll-interval must be a duration from 100 ms to 60 minutes (500ms, 2s, 1m; a bare number is milliseconds) or off, got "50ms"',
    ],
    [
      { env: { IRIS_MODEL_POLL_INTERVAL: "2h" } },
      'IRIS_MODEL_POLL_INTERVAL must be a duration from 100 ms to 60 minutes (500ms, 2s, 1m; a bare number is milliseconds) or off, got "2h"',
    ],
    [{ flags: { metrics: "sometimes" } }, '--metrics must be on or off (true/false, yes/no, 1/0), got "sometimes"'],
    [{ env: { IRIS_ACCESS_LOG: "verbose" } }, 'IRIS_ACCESS_LOG must be on or off (true/false, yes/no, 1/0), got "verbose"'],
  ])("rejects %j with a precise message", (sources, message) => {
    const err = failure(() => loadConfig(sources));
    expect(err.code).toBe(Code.INVALID_ARGUMENT);
    expect(err.message).toBe(message);
  });
});

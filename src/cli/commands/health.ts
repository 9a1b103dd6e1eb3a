/**
 * `iris health`: one grpc.health.v1 Check against a running server. Exit 0
 * only when the answer is SERVING, so it can be a container HEALTHCHECK or an
 * exec probe as it is; anything else is one line on stderr and exit 1.
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";
import { statusMessage } from "../../client/index.js";
import { DEFAULTS, loadConfig } from "../../config.js";
import { clientTlsHelp, clientTransport, CLIENT_TLS_FLAGS, type ClientTransport } from "../client-tls.js";
import { ExitCode, numberFlag, parseFlags, usageError, type Command } from "../command.js";
import { remoteAddress } from "../remote.js";

/** How long one check may take unless --timeout-ms says otherwise. */
const DEFAULT_HEALTH_TIMEOUT_MS = 3000;

const HELP = `Usage: iris health [--address HOST[:PORT]] [--service NAME] [--timeout-ms N] [--tls | --tls-ca FILE]

Asks a running server for its health (grpc.health.v1.Health/Check) and exits
0 if the answer is SERVING, 1 otherwise (NOT_SERVING, unknown service,
unreachable, no answer in time), with a one-line reason on stderr.

Options:
  --address HOST[:PORT]  server to ask, on port ${DEFAULTS.port} unless given
                         (default: this machine, on the port the server
                         would use: IRIS_PORT, else ${DEFAULTS.port}; IRIS_HOST
                         when it names a specific interface)
  --service NAME         service to ask about: "" (default) is the whole
                         server, iris.v1.IrisService the model service
  --timeout-ms N         give up after N milliseconds (default ${DEFAULT_HEALTH_TIMEOUT_MS})
  -h, --help             show this help
${clientTlsHelp().join("\n")}

Examples:
  iris health
  iris health --address 127.0.0.1:50051 --service iris.v1.IrisService
  iris health --tls-ca ca.pem --tls-server-name iris.example.com
`;

interface HealthCheckResponse {
  status: string;
}

type HealthClient = grpc.Client & {
  Check(
    request: { service: string },
    options: grpc.CallOptions,
    callback: (error: grpc.ServiceError | null, response?: HealthCheckResponse) => void,
  ): grpc.ClientUnaryCall;
};

let healthClientConstructor:
  | (new (address: string, credentials: grpc.ChannelCredentials, options: grpc.ChannelOptions) => HealthClient)
  | undefined;

function healthClient(address: string, transport: ClientTransport): HealthClient {
  if (!healthClientConstructor) {
    const definition = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String, defaults: true });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      grpc: { health: { v1: { Health: typeof healthClientConstructor } } };
    };
    healthClientConstructor = loaded.grpc.health.v1.Health;
  }
  // Assigned just above.
  return new healthClientConstructor!(address, transport.credentials, transport.channelOptions);
}

/** The address the local server listens on, from the same settings the server reads. */
function defaultAddress(): string {
  const { host, port } = loadConfig({ env: process.env });
  if (port === 0) throw usageError("IRIS_PORT is 0 (a random port): pass --address host:port");
  const local = host === "0.0.0.0" ? "127.0.0.1" : host === "::" || host === "[::]" ? "[::1]" : host;
  return local.includes(":") && !local.startsWith("[") ? `[${local}]:${port}` : `${local}:${port}`;
}

/** Runs one Check; resolves to the status name or rejects with the call's error. */
function check(address: string, service: string, timeoutMs: number, transport: ClientTransport): Promise<string> {
  const client = healthClient(address, transport);
  return new Promise<string>((resolve, reject) => {
    client.Check({ service }, { deadline: Date.now() + timeoutMs }, (error, response) => {
      client.close();
      if (error) reject(error);
      else resolve(response?.status ?? "UNKNOWN");
    });
  });
}

function describeFailure(error: grpc.ServiceError, address: string, service: string, timeoutMs: number): string {
  switch (error.code) {
    case grpc.status.NOT_FOUND:
      return `${address}: the server does not know service "${service}"`;
    case grpc.status.DEADLINE_EXCEEDED:
      return `${address}: no answer within ${timeoutMs} ms`;
    case grpc.status.UNAVAILABLE:
      return `${address}: unreachable (${statusMessage(error)})`;
    case grpc.status.UNIMPLEMENTED:
      return `${address}: the server has no grpc.health.v1 service`;
    default:
      return `${address}: ${grpc.status[error.code] ?? error.code}: ${error.details}`;
  }
}

export const health: Command = {
  name: "health",
  summary: "Check a running server's gRPC health (exit 0 when SERVING)",
  help: HELP,
  async run(argv, io) {
    const { values } = parseFlags(argv, {
      address: { type: "string" },
      service: { type: "string" },
      "timeout-ms": { type: "string" },
      ...CLIENT_TLS_FLAGS,
    });
    const address = values.address === undefined ? defaultAddress() : remoteAddress("address", values.address);
    const service = values.service ?? "";
    const timeoutMs = numberFlag("timeout-ms", values["timeout-ms"], DEFAULT_HEALTH_TIMEOUT_MS, {
      min: 1,
      max: 600_000,
      integer: true,
    });
    const transport = await clientTransport(values);
    const label = service === "" ? "server" : `service "${service}"`;
    try {
      const status = await check(address, service, timeoutMs, transport);
      if (status === "SERVING") {
        io.stdout.write(`SERVING (${label} at ${address})\n`);
        return ExitCode.OK;
      }
      io.stderr.write(`iris health: ${address}: ${label} is ${status}\n`);
      return ExitCode.FAILURE;
    } catch (err) {
      const error = err as grpc.ServiceError;
      if (typeof error.code !== "number") throw err;
      io.stderr.write(`iris health: ${describeFailure(error, address, service, timeoutMs)}\n`);
      return ExitCode.FAILURE;
    }
  },
};

/**
 * Calling a running server from the CLI (`iris predict --remote`,
 * `iris info --remote`, `iris health --address`): the address (a host
 * without a port dials the server's default port), the transport (plaintext,
 * or TLS from ./client-tls.ts), the deadline, and the wording of a failed
 * call. The commands stay thin; this is said once, here.
 */
import { createIrisClient, type IrisClient } from "../client/index.js";
import { DEFAULTS } from "../config.js";
import { codeName, IrisError } from "../errors.js";
import { clientTransport, CLIENT_TLS_FLAGS, wantsTls, type ClientTlsValues } from "./client-tls.js";
import { numberFlag, usageError } from "./command.js";

/** Deadline of a remote call unless --timeout-ms says otherwise. */
export const DEFAULT_REMOTE_TIMEOUT_MS = 10_000;

/** parseFlags options of a remote call: its deadline and the TLS flags. */
export const REMOTE_CALL_FLAGS = { "timeout-ms": { type: "string" }, ...CLIENT_TLS_FLAGS } as const;

export interface RemoteCallValues extends ClientTlsValues {
  "timeout-ms"?: string | undefined;
}

/** gRPC target schemes that carry no host:port (grpc-js resolves them as they are). */
const PORTLESS_SCHEMES = /^(unix|unix-abstract|ipv4|ipv6):/i;
const DNS_SCHEME = /^dns:(\/\/[^/]*\/)?/i;

/**
 * The address a remote flag names, with the server's default port (50051)
 * when it has none: `host`, `host:port`, an IPv4 address, an IPv6 address in
 * brackets (`[::1]`, `[::1]:50051`) or bare (`::1`), or a gRPC target URI
 * (`dns:///name[:port]`; `unix:`, `ipv4:` and `ipv6:` targets as given).
 * grpc-js itself would dial port 443 for a host without a port.
 */
export function remoteAddress(flag: string, value: string): string {
  const text = value.trim();
  if (text === "") throw usageError(`--${flag} must be HOST or HOST:PORT, got an empty string`);
  const bad = () => usageError(`--${flag} must be HOST or HOST:PORT with a port from 1 to 65535 ([::1] for IPv6), got "${value}"`);
  if (/\s/.test(text)) throw bad();
  if (PORTLESS_SCHEMES.test(text)) return text;
  const scheme = DNS_SCHEME.exec(text)?.[0] ?? "";
  const target = text.slice(scheme.length);

  let host: string;
  let port: string | undefined;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(target);
  if (bracketed) {
    [, host = "", port] = bracketed;
    if (host === "") throw bad();
    host = `[${host}]`;
  } else if ((target.match(/:/g) ?? []).length >= 2) {
    // Bare IPv6 (`::1`): a port needs the brackets.
    host = `[${target}]`;
  } else {
    const colon = target.indexOf(":");
    host = colon === -1 ? target : target.slice(0, colon);
    port = colon === -1 ? undefined : target.slice(colon + 1);
  }
  if (host === "") throw bad();
  if (port === undefined) return `${scheme}${host}:${DEFAULTS.port}`;
  const number = /^\d{1,5}$/.test(port) ? Number(port) : NaN;
  if (!(number >= 1 && number <= 65_535)) throw bad();
  return `${scheme}${host}:${number}`;
}

/** An error of a call to `address`, with the address and status name in front. */
function remoteError(address: string, err: unknown): IrisError {
  const e = IrisError.from(err);
  return new IrisError(e.code, `${address}: ${codeName(e.code)}: ${e.message}`, {
    cause: e.cause ?? err,
    violations: [...e.violations],
  });
}

/**
 * Runs `call` with an SDK client of the server at `address` (already checked
 * by remoteAddress), over the transport and with the deadline the flags ask
 * for, and closes the client after. A failed call is a remoteError (exit 1).
 */
export async function withRemoteClient<T>(
  address: string,
  values: RemoteCallValues,
  call: (client: IrisClient) => Promise<T>,
): Promise<T> {
  const deadlineMs = numberFlag("timeout-ms", values["timeout-ms"], DEFAULT_REMOTE_TIMEOUT_MS, { min: 1, integer: true });
  const { credentials, channelOptions } = await clientTransport(values);
  const client = createIrisClient(address, { deadlineMs, credentials, channelOptions });
  try {
    return await call(client);
  } catch (err) {
    throw remoteError(address, err);
  } finally {
    client.close();
  }
}

/** Refuses the remote-call flags when the command does not call a server. */
export function refuseRemoteCallFlags(values: RemoteCallValues, remoteFlag: string): void {
  if (values["timeout-ms"] !== undefined) throw usageError(`--timeout-ms applies only with --${remoteFlag}`);
  if (wantsTls(values)) throw usageError(`--tls, --tls-ca and --tls-server-name apply only with --${remoteFlag}`);
}

/**
 * Calling a running server from the CLI (`iris predict --remote`,
 * `iris info --remote`, `iris health --address`): the address (a host
 * without a port dials the server's default port), the transport (plaintext,
 * or TLS from ./client-tls.ts), the deadline, and the wording of a failed
 * call. The commands stay thin; this is said once, here.
 */
import { createIrisClient, serverAddress, type IrisClient } from "../client/index.js";
import { readFile } from "node:fs/promises";
import { codeName, fileProblem, IrisError } from "../errors.js";
import { clientTransport, CLIENT_TLS_FLAGS, wantsTls, type ClientTlsValues } from "./client-tls.js";
import { numberFlag, usageError } from "./command.js";

/** Deadline of a remote call unless --timeout-ms says otherwise. */
export const DEFAULT_REMOTE_TIMEOUT_MS = 10_000;

/** parseFlags options of a remote call: its deadline and the TLS flags. */
export const REMOTE_CALL_FLAGS = { "timeout-ms": { type: "string" }, "token-file": { type: "string" }, ...CLIENT_TLS_FLAGS } as const;

export interface RemoteCallValues extends ClientTlsValues {
  "timeout-ms"?: string | undefined;
  /** A file whose first token (first line that is not blank or a `#` comment) is sent as the bearer token. */
  "token-file"?: string | undefined;
}

/** The bearer token of --token-file (its first token), or undefined without the flag; a usage error when there is none. */
async function tokenOf(path: string | undefined): Promise<string | undefined> {
  if (path === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw usageError(`--token-file ${path}: ${fileProblem(err)}`);
  }
  const token = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l !== "" && !l.startsWith("#"));
  if (token === undefined) throw usageError(`--token-file ${path}: no token in the file`);
  return token;
}

/** The address a remote flag names, with the default port when it has none (see client/address.ts); a usage error naming the flag otherwise. */
export function remoteAddress(flag: string, value: string): string {
  try {
    return serverAddress(value);
  } catch (err) {
    throw usageError(`--${flag} ${(err as IrisError).message}`);
  }
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
  const token = await tokenOf(values["token-file"]);
  const client = createIrisClient(address, { deadlineMs, credentials, channelOptions, ...(token !== undefined ? { token } : {}) });
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
  if (wantsTls(values)) throw usageError(`--tls, --tls-ca, --tls-server-name, --tls-cert and --tls-key apply only with --${remoteFlag}`);
  if (values["token-file"] !== undefined) throw usageError(`--token-file applies only with --${remoteFlag}`);
}

/**
 * The TLS flags of the commands that call a server (`iris health`,
 * `iris info --remote`, `iris predict --remote`): plaintext unless one is
 * given, then TLS trusting the system's roots (`--tls`) or one PEM CA or
 * self-signed certificate (`--tls-ca FILE`), presenting a client certificate
 * when asked (`--tls-cert FILE --tls-key FILE`, mutual TLS).
 */
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { credentials, type ChannelCredentials, type ChannelOptions } from "@grpc/grpc-js";
import { fileProblem } from "../errors.js";
import { usageError } from "./command.js";

/** parseFlags options for the TLS flags. */
export const CLIENT_TLS_FLAGS = {
  tls: { type: "boolean" },
  "tls-ca": { type: "string" },
  "tls-server-name": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
} as const;

/** The help section of the TLS flags (preceded by an empty line). */
export function clientTlsHelp(when = ""): string[] {
  return [
    "",
    `TLS${when === "" ? "" : `, ${when}`} (default: plaintext; any of these turns it on):`,
    "  --tls                   Trust the system's root certificates",
    "  --tls-ca FILE           Trust this PEM CA certificate (or the server's self-signed one)",
    "  --tls-server-name NAME  Name the server's certificate must carry (default: the host dialled)",
    "  --tls-cert FILE         Present this PEM client certificate (mutual TLS; with --tls-key)",
    "  --tls-key FILE          The client certificate's PEM private key",
  ];
}

export interface ClientTlsValues {
  tls?: boolean | undefined;
  "tls-ca"?: string | undefined;
  "tls-server-name"?: string | undefined;
  "tls-cert"?: string | undefined;
  "tls-key"?: string | undefined;
}

export interface ClientTransport {
  credentials: ChannelCredentials;
  channelOptions: ChannelOptions;
}

/** True when any TLS flag was given. */
export function wantsTls(values: ClientTlsValues): boolean {
  return (
    values.tls === true ||
    values["tls-ca"] !== undefined ||
    values["tls-server-name"] !== undefined ||
    values["tls-cert"] !== undefined ||
    values["tls-key"] !== undefined
  );
}

/**
 * The credentials the flags ask for: plaintext when none is given. A CA file
 * that is missing or holds no certificate is a usage error (exit 2).
 */
export async function clientTransport(values: ClientTlsValues): Promise<ClientTransport> {
  if (!wantsTls(values)) return { credentials: credentials.createInsecure(), channelOptions: {} };
  let rootCerts: Buffer | null = null;
  const caPath = values["tls-ca"];
  if (caPath !== undefined) {
    if (caPath.trim() === "") throw usageError("--tls-ca must be the path of a PEM certificate, got an empty string");
    try {
      rootCerts = await readFile(caPath);
    } catch (err) {
      throw usageError(`--tls-ca ${caPath}: ${fileProblem(err)}`);
    }
    try {
      new X509Certificate(rootCerts);
    } catch {
      throw usageError(`--tls-ca ${caPath}: not a PEM certificate`);
    }
  }
  const channelOptions: ChannelOptions = {};
  const name = values["tls-server-name"];
  if (name !== undefined) {
    if (name.trim() === "" || /\s/.test(name)) throw usageError(`--tls-server-name must be a host name, got "${name}"`);
    channelOptions["grpc.ssl_target_name_override"] = name;
    channelOptions["grpc.default_authority"] = name;
  }
  const certPath = values["tls-cert"];
  const keyPath = values["tls-key"];
  if ((certPath === undefined) !== (keyPath === undefined)) throw usageError("--tls-cert and --tls-key go together (a client certificate and its key)");
  let pair: { key: Buffer; cert: Buffer } | undefined;
  if (certPath !== undefined && keyPath !== undefined) {
    const read = async (flag: string, path: string): Promise<Buffer> => {
      try {
        return await readFile(path);
      } catch (err) {
        throw usageError(`--${flag} ${path}: ${fileProblem(err)}`);
      }
    };
    pair = { cert: await read("tls-cert", certPath), key: await read("tls-key", keyPath) };
    try {
      new X509Certificate(pair.cert);
    } catch {
      throw usageError(`--tls-cert ${certPath}: not a PEM certificate`);
    }
  }
  return { credentials: credentials.createSsl(rootCerts, pair?.key ?? null, pair?.cert ?? null), channelOptions };
}

/**
 * The server's TLS credentials from a PEM certificate chain and private key,
 * checked before anything listens: both files must exist, parse, and belong
 * together. A problem is an IrisError naming the file and what is wrong
 * (FAILED_PRECONDITION, or NOT_FOUND for a missing file), never a server
 * that starts and then fails every handshake.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { ServerCredentials } from "@grpc/grpc-js";
import { Code, fileProblem, IrisError, isNotFound } from "../errors.js";

export interface ServerTls {
  /** For the gRPC port. */
  credentials: ServerCredentials;
  /** The PEM chain and key, for the HTTP port, and the client CA when client certificates are required. */
  pem: { cert: Buffer; key: Buffer; clientCa?: Buffer | undefined };
  /** PEM CA certificate(s) client certificates must chain to (mutual TLS); none asked when absent. */
  clientCa?: Buffer | undefined;
  /** The leaf certificate's subject, SANs and validity, for the start log line. */
  certificate: { subject: string; subjectAltName: string | undefined; validFrom: Date; validTo: Date };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

async function readPem(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    if (isNotFound(err)) throw new IrisError(Code.NOT_FOUND, `${path}: ${what} file not found`, { cause: err });
    throw new IrisError(Code.FAILED_PRECONDITION, `${path}: cannot read ${what} file: ${fileProblem(err)}`, { cause: err });
  }
}

/** The first line of an OpenSSL error, without its library prefix noise. */
function reason(err: unknown): string {
  return (err as Error).message.split("\n")[0]!;
}

/**
 * Reads and checks the certificate chain at `certPath` and the key at
 * `keyPath` (and the client CA at `clientCaPath`, when given); resolves to
 * grpc-js server credentials. With a client CA the gRPC port does its TLS
 * itself (./grpc/connections.ts), to ask for client certificates without
 * refusing connections that have none (probes).
 */
export async function loadServerTls(certPath: string, keyPath: string, clientCaPath?: string): Promise<ServerTls> {
  const [certPem, keyPem, clientCa] = await Promise.all([
    readPem(certPath, "TLS certificate"),
    readPem(keyPath, "TLS key"),
    clientCaPath === undefined ? undefined : readPem(clientCaPath, "client CA"),
  ]);
  if (clientCa !== undefined) {
    const cas = clientCa.toString("utf8").match(PEM_CERTIFICATE) ?? [];
    if (cas.length === 0) throw new IrisError(Code.FAILED_PRECONDITION, `${clientCaPath}: not a PEM certificate (no "BEGIN CERTIFICATE" block)`);
    cas.forEach((block, i) => {
      try {
        new X509Certificate(block);
      } catch (err) {
        throw new IrisError(Code.FAILED_PRECONDITION, `${clientCaPath}: certificate ${i + 1} does not parse: ${reason(err)}`, { cause: err });
      }
    });
  }

  const blocks = certPem.toString("utf8").match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    throw new IrisError(Code.FAILED_PRECONDITION, `${certPath}: not a PEM certificate (no "BEGIN CERTIFICATE" block)`);
  }
  const chain = blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new IrisError(Code.FAILED_PRECONDITION, `${certPath}: certificate ${i + 1} does not parse: ${reason(err)}`, {
        cause: err,
      });
    }
  });

  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    const encrypted = /ENCRYPTED/.test(keyPem.toString("utf8"));
    const why = encrypted ? "it is encrypted; give an unencrypted key" : `not a PEM private key (${reason(err)})`;
    throw new IrisError(Code.FAILED_PRECONDITION, `${keyPath}: ${why}`, { cause: err });
  }

  const leaf = chain[0]!;
  if (!leaf.checkPrivateKey(key)) {
    throw new IrisError(
      Code.FAILED_PRECONDITION,
      `${keyPath}: this private key does not belong to the certificate in ${certPath} (${leaf.subject.replace(/\n/g, ", ")})`,
    );
  }

  return {
    credentials: ServerCredentials.createSsl(null, [{ cert_chain: certPem, private_key: keyPem }], false),
    pem: { cert: certPem, key: keyPem, clientCa },
    clientCa,
    certificate: {
      subject: leaf.subject.replace(/\n/g, ", "),
      subjectAltName: leaf.subjectAltName,
      validFrom: new Date(leaf.validFrom),
      validTo: new Date(leaf.validTo),
    },
  };
}

/**
 * Authentication, for the gRPC and HTTP ports alike: a call stage (see
 * ./calls.ts) that refuses a call without the credentials the server asks
 * for, before its message is read.
 *
 * - Bearer tokens (`--token-file`): the call must carry
 *   `authorization: Bearer <token>` (gRPC metadata or HTTP header) with one
 *   of the file's tokens. The file holds one token a line (blank lines and
 *   lines starting with `#` aside) and is reread when it changes, so tokens
 *   can be added and revoked without a restart; a file that becomes
 *   unreadable or empty keeps the tokens read last (and says so at warn).
 *   Tokens are compared in constant time (SHA-256 digests compared with
 *   timingSafeEqual, so neither the content nor the length of a token shows
 *   in the time a refusal takes) and never logged.
 * - Client certificates (`--tls-client-ca`): the TLS connection must have
 *   presented a certificate that chains to the given CA. The handshake asks
 *   for one but lets a connection without one through, so that probes stay
 *   reachable; every other call on such a connection is refused here.
 *
 * A call without credentials gets UNAUTHENTICATED (HTTP 401 with
 * `WWW-Authenticate: Bearer`); one with a token that is not accepted gets
 * UNAUTHENTICATED too (nothing tells an unknown token from a revoked one).
 * Probes (health and readiness, see ./limits.ts isProbe) are never asked.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { unwatchFile, watchFile, type Stats } from "node:fs";
import { Code, fileProblem, IrisError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { Call, CallStage } from "./calls.js";
import { isProbe } from "./limits.js";

/** How often the token file is checked for a change. */
const TOKEN_FILE_POLL_MS = 1_000;
/** Largest token file read (tokens are short; a bigger file is a mistake). */
const MAX_TOKEN_FILE_BYTES = 1024 * 1024;

const digest = (token: string): Buffer => createHash("sha256").update(token, "utf8").digest();

/** The tokens of a file's text: one a line, trimmed, blank lines and `#` comments aside. */
export function parseTokens(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

/** A token file, read at open and reread when it changes. */
export class TokenFile {
  readonly path: string;
  readonly #logger: Logger;
  #digests: Buffer[] = [];
  #listener: ((current: Stats, previous: Stats) => void) | undefined;

  private constructor(path: string, logger: Logger) {
    this.path = path;
    this.#logger = logger;
  }

  /** Reads `path` (refused when unreadable or without a token) and watches it for changes. */
  static async open(path: string, logger: Logger): Promise<TokenFile> {
    const file = new TokenFile(path, logger);
    file.#digests = (await readTokens(path)).map(digest);
    file.#listener = (current, previous) => {
      if (current.mtimeMs === previous.mtimeMs && current.size === previous.size && current.ino === previous.ino) return;
      void file.reload();
    };
    watchFile(path, { interval: TOKEN_FILE_POLL_MS, persistent: false }, file.#listener);
    return file;
  }

  /** Tokens in force. */
  get count(): number {
    return this.#digests.length;
  }

  /** Rereads the file; on a problem the tokens in force stay, and the problem is logged. */
  async reload(): Promise<void> {
    try {
      const tokens = await readTokens(this.path);
      this.#digests = tokens.map(digest);
      this.#logger.info({ tokenFile: this.path, tokens: tokens.length }, "token file reread");
    } catch (err) {
      this.#logger.warn(
        { tokenFile: this.path, tokens: this.#digests.length, problem: err instanceof IrisError ? err.message : String(err) },
        "token file not reread: the tokens read last stay in force",
      );
    }
  }

  /** Whether `token` is one of the file's, in time that depends on neither the token nor the file's tokens. */
  accepts(token: string): boolean {
    const given = digest(token);
    let found = false;
    for (const d of this.#digests) found = timingSafeEqual(d, given) || found;
    return found;
  }

  /** Stops watching the file. */
  close(): void {
    if (this.#listener !== undefined) unwatchFile(this.path, this.#listener);
    this.#listener = undefined;
  }
}

async function readTokens(path: string): Promise<string[]> {
  let text: string;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new IrisError(Code.FAILED_PRECONDITION, `${path}: the token file is not a regular file`);
    if (info.size > MAX_TOKEN_FILE_BYTES) {
      throw new IrisError(Code.FAILED_PRECONDITION, `${path}: the token file has ${info.size} bytes; at most ${MAX_TOKEN_FILE_BYTES} are read`);
    }
    text = await readFile(path, "utf8");
  } catch (err) {
    if (err instanceof IrisError) throw err;
    throw new IrisError(Code.FAILED_PRECONDITION, `${path}: cannot read the token file: ${fileProblem(err)}`, { cause: err });
  }
  const tokens = parseTokens(text);
  if (tokens.length === 0) throw new IrisError(Code.FAILED_PRECONDITION, `${path}: the token file holds no token (one a line)`);
  return tokens;
}

export interface AuthOptions {
  /** Bearer tokens asked for; none when absent. */
  tokens?: Pick<TokenFile, "accepts"> | undefined;
  /** A verified client certificate asked for. */
  clientCertificates?: boolean;
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** The refusal of a call without acceptable credentials. */
function unauthenticated(message: string): IrisError {
  return new IrisError(Code.UNAUTHENTICATED, message);
}

/** The stage that refuses calls without the credentials `options` asks for (see the module comment). */
export function authStage(options: AuthOptions): CallStage {
  return {
    start(call: Call) {
      if (isProbe(call)) return;
      if (options.clientCertificates === true && call.clientSubject === undefined) {
        throw unauthenticated("this server requires a client certificate signed by its client CA (mutual TLS)");
      }
      if (options.tokens === undefined) return;
      const header = call.authorization;
      if (header === undefined || header === "") {
        throw unauthenticated('this server requires a bearer token: send "authorization: Bearer <token>"');
      }
      const match = BEARER.exec(header);
      if (match === null) throw unauthenticated('the authorization is not of the form "Bearer <token>"');
      if (!options.tokens.accepts(match[1]!)) throw unauthenticated("the bearer token is not accepted");
    },
  };
}

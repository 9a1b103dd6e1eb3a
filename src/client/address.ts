/**
 * The address of a server as the SDK and the CLI take it, with the server's
 * default port (50051) when it has none: `host`, `host:port`, an IPv4
 * address, an IPv6 address in brackets (`[::1]`, `[::1]:50051`) or bare
 * (`::1`), or a gRPC target URI (`dns:///name[:port]`; `unix:`, `ipv4:` and
 * `ipv6:` targets as given). grpc-js by itself would dial port 443 for a
 * host without a port.
 */
import { Code, IrisError } from "../errors.js";
import { DEFAULT_GRPC_PORT } from "../rpc/defaults.js";

/** gRPC target schemes that carry no host:port (grpc-js resolves them as they are). */
const PORTLESS_SCHEMES = /^(unix|unix-abstract|ipv4|ipv6):/i;
const DNS_SCHEME = /^dns:(\/\/[^/]*\/)?/i;

/** `address` with the default port when it has none; INVALID_ARGUMENT ("must be HOST or HOST:PORT ...") when it is not an address. */
export function serverAddress(address: string): string {
  const text = typeof address === "string" ? address.trim() : "";
  const bad = (): IrisError =>
    new IrisError(
      Code.INVALID_ARGUMENT,
      text === ""
        ? "must be HOST or HOST:PORT, got an empty string"
        : `must be HOST or HOST:PORT with a port from 1 to 65535 ([::1] for IPv6), got ${JSON.stringify(address)}`,
    );
  if (text === "" || /\s/.test(text)) throw bad();
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
  if (port === undefined) return `${scheme}${host}:${DEFAULT_GRPC_PORT}`;
  const number = /^\d{1,5}$/.test(port) ? Number(port) : NaN;
  if (!(number >= 1 && number <= 65_535)) throw bad();
  return `${scheme}${host}:${number}`;
}

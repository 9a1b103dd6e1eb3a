/**
 * gRPC spoken by hand over node:http2, for tests that must do what a
 * well-behaved client never does: send part of a message, declare a
 * compressed one, or stop reading its socket while answers keep coming.
 */
import { once } from "node:events";
import { connect as http2Connect, type ClientHttp2Session, type ClientHttp2Stream, type SecureClientSessionOptions } from "node:http2";
import { connect as netConnect, type Socket } from "node:net";
import { Duplex } from "node:stream";
import { gzipSync } from "node:zlib";

/** One length-prefixed gRPC message (gzip-compressed when `compressed`). */
export function grpcFrame(message: Uint8Array, compressed = false): Buffer {
  const body = compressed ? gzipSync(message) : Buffer.from(message);
  const frame = Buffer.alloc(5 + body.length);
  frame[0] = compressed ? 1 : 0;
  frame.writeUInt32BE(body.length, 1);
  body.copy(frame, 5);
  return frame;
}

/** Request headers of a gRPC call to `path` (e.g. `/iris.v1.IrisService/Predict`). */
function grpcHeaders(path: string, extra: Record<string, string> = {}): Record<string, string> {
  return { ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...extra };
}

export interface RawAnswer {
  /** grpc-status, as a number; undefined when the stream ended without one (reset). */
  status: number | undefined;
  message: string | undefined;
  /** Body bytes received (framed messages). */
  body: Buffer;
  /** The stream's RST_STREAM code, when it was reset. */
  rstCode: number | undefined;
  /** Every header and trailer received. */
  headers: Record<string, unknown>;
}

/**
 * Collects a stream's answer: status from headers (trailers-only) or
 * trailers. It is complete when the server ends its side (even while the
 * request is still open: the stream is then closed) or the stream closes.
 */
function answerOf(stream: ClientHttp2Stream): Promise<RawAnswer> {
  const chunks: Buffer[] = [];
  const headers: Record<string, unknown> = {};
  stream.on("response", (h) => Object.assign(headers, h));
  stream.on("trailers", (t) => Object.assign(headers, t));
  stream.on("data", (c: Buffer) => chunks.push(c));
  stream.on("error", () => undefined);
  const ended = new Promise<void>((resolve) => {
    // A request still open is closed by the client once the answer has ended;
    // one already sent in full closes by itself (resetting every stream would
    // look like an HTTP/2 rapid-reset attack, and the server would end the session).
    stream.once("end", () => {
      if (!stream.writableEnded) resolve();
    });
    stream.once("close", resolve);
  });
  return ended.then(() => {
    if (!stream.closed) stream.close();
    const status = headers["grpc-status"];
    const message = headers["grpc-message"];
    return {
      status: status === undefined ? undefined : Number(status),
      message: typeof message === "string" ? decodeURIComponent(message) : undefined,
      body: Buffer.concat(chunks),
      rstCode: stream.rstCode,
      headers,
    };
  });
}

/** Opens a call and sends `body` (ending the request unless `end` is false). */
export function rawCall(
  session: ClientHttp2Session,
  path: string,
  body: Buffer,
  options: { end?: boolean; headers?: Record<string, string> } = {},
): { stream: ClientHttp2Stream; answer: Promise<RawAnswer> } {
  const stream = session.request(grpcHeaders(path, options.headers));
  const answer = answerOf(stream);
  if (options.end === false) stream.write(body);
  else stream.end(body);
  return { stream, answer };
}

export interface StalledCall {
  stream: ClientHttp2Stream;
  /** The answer's first headers: with a grpc-status when the call was refused (trailers-only). */
  headers: Promise<Record<string, unknown>>;
  /** Starts reading the answer. */
  read(): Promise<RawAnswer>;
}

/**
 * A call whose answer is not read until read() is called: its HTTP/2 flow
 * control windows stay shut, and the server has to keep what it wrote.
 */
export function stalledCall(session: ClientHttp2Session, path: string, body: Buffer, headers: Record<string, string> = {}): StalledCall {
  const stream = session.request(grpcHeaders(path, headers));
  stream.on("error", () => undefined);
  const first = once(stream, "response").then(([h]) => ({ ...(h as Record<string, unknown>) }));
  stream.end(body);
  return { stream, headers: first, read: () => answerOf(stream) };
}

/** Resolves once the server has read everything sent before (a PING is answered in order). */
export function roundTrip(session: ClientHttp2Session): Promise<void> {
  return new Promise((resolve, reject) => session.ping((err) => (err ? reject(err) : resolve())));
}

export interface PausableSession {
  session: ClientHttp2Session;
  /** The TCP socket underneath. */
  tcp: Socket;
  /** Stops reading the socket: the kernel's buffers fill and the server can no longer send. */
  stopReading(): void;
}

/**
 * An HTTP/2 session over a socket whose reading the test controls (node:http2
 * reads a net.Socket natively, past pause(); through a Duplex it reads what
 * the Duplex gives it). It advertises the largest flow-control windows, as
 * a client out to take the server's memory would.
 */
export async function pausableSession(port: number, options: SecureClientSessionOptions = {}): Promise<PausableSession> {
  const tcp = netConnect(port, "127.0.0.1");
  await once(tcp, "connect");
  let reading = true;
  const duplex = new Duplex({
    read() {
      if (reading) tcp.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      tcp.write(chunk, callback);
    },
    final(callback) {
      tcp.end(callback);
    },
    destroy(err, callback) {
      tcp.destroy();
      callback(err);
    },
  });
  tcp.on("data", (data: Buffer) => {
    if (!duplex.push(data)) tcp.pause();
  });
  tcp.on("end", () => duplex.push(null));
  tcp.on("close", () => duplex.destroy());
  tcp.on("error", () => duplex.destroy());
  const session = http2Connect(`http://127.0.0.1:${port}`, {
    ...options,
    createConnection: () => duplex,
    settings: { initialWindowSize: 2 ** 31 - 1, ...options.settings },
  });
  session.on("error", () => undefined);
  await once(session, "connect");
  session.setLocalWindowSize(2 ** 31 - 1);
  return {
    session,
    tcp,
    stopReading() {
      reading = false;
      tcp.pause();
    },
  };
}

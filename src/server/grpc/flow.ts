/**
 * What each gRPC call holds in memory, bounded: the innermost grpc-js server
 * interceptor, the one next to the HTTP/2 stream.
 *
 * - Request bytes: every byte of a request reserves its place in the
 *   process-wide InflightBytes as it arrives (a compressed message reserves
 *   the most it may decompress to, the receive limit, as soon as its header
 *   says it is compressed), and gives it back when the call ends. A call
 *   whose bytes do not fit is refused there and then (RESOURCE_EXHAUSTED
 *   with a retry hint), before grpc-js decodes anything: partial messages,
 *   decompressed ones and the work of decoding them stay under the limit
 *   whatever the number of streams.
 * - Request time: a call whose request has not fully arrived
 *   `requestTimeoutMs` after it started (a slow or stalled sender) is ended
 *   with DEADLINE_EXCEEDED, which frees its stream and its bytes.
 * - Answer bytes: each answer written and not yet taken by the client
 *   counts against its connection (./connections.ts) until the write
 *   completes or the stream closes (not when the status is sent: an answer
 *   to a client that does not read stays in memory after that).
 *
 * grpc-js hands the innermost interceptor its base call, which keeps the
 * HTTP/2 stream as `stream`: not public API (grpc-js is pinned), but the
 * only place where a request's bytes can be seen before they are decoded
 * and an answer's after it is encoded. Without it (another grpc-js), calls
 * go through uncounted and an error is logged once; test/limits.test.ts
 * would fail.
 */
import type { ServerHttp2Stream } from "node:http2";
import {
  ServerInterceptingCall,
  type Metadata,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  type ServerMethodDefinition,
} from "@grpc/grpc-js";
import { Code, IrisError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { InflightBytes } from "../limits.js";
import type { GrpcConnection, GrpcConnections } from "./connections.js";
import { toServiceStatus } from "./status.js";

export interface FlowOptions {
  inflight: InflightBytes;
  connections: GrpcConnections;
  /** The receive limit: what a compressed message is counted as. */
  maxReceiveBytes: number;
  requestTimeoutMs: number;
  logger: Logger;
}

type Listener = Parameters<ServerInterceptingCallInterface["start"]>[0];

/** The 5-byte prefix of each gRPC message: compressed flag, then length. */
const PREFIX_BYTES = 5;

let missingStreamLogged = false;

function streamOf(next: ServerInterceptingCallInterface, logger: Logger): ServerHttp2Stream | undefined {
  const stream = (next as { stream?: ServerHttp2Stream }).stream;
  if (stream !== undefined && typeof stream.prependListener === "function") return stream;
  if (!missingStreamLogged) {
    missingStreamLogged = true;
    logger.error("this grpc-js keeps no HTTP/2 stream on its calls: request and answer bytes go uncounted");
  }
  return undefined;
}

/** The innermost interceptor of the gRPC port (it must come first in the server's `interceptors`). */
export function flowInterceptor(options: FlowOptions): ServerInterceptor {
  return (method: ServerMethodDefinition<unknown, unknown>, next: ServerInterceptingCallInterface) => {
    const stream = streamOf(next, options.logger);
    // grpc-js wants a ServerInterceptingCall; one without a responder passes everything to FlowCall.
    return new ServerInterceptingCall(stream === undefined ? next : new FlowCall(method, next, stream, options));
  };
}

class FlowCall implements ServerInterceptingCallInterface {
  /** The call below, under the name grpc-js's own intercepting calls give it (for code that looks for the stream). */
  readonly nextCall: ServerInterceptingCallInterface;
  readonly #next: ServerInterceptingCallInterface;
  readonly #stream: ServerHttp2Stream;
  readonly #options: FlowOptions;
  readonly #path: string;
  readonly #requestStream: boolean;
  readonly #connection: GrpcConnection | undefined;
  /** Request bytes reserved and not given back. */
  #reserved = 0;
  /** Bytes reserved by each message received in full and not yet handed on (streaming requests). */
  readonly #complete: number[] = [];
  /** Bytes reserved by the message being received. */
  #partial = 0;
  /** Bytes of the current message's prefix seen, and the prefix itself. */
  #prefixSeen = 0;
  readonly #prefix = Buffer.alloc(PREFIX_BYTES);
  /** Body bytes of the current message still to come. */
  #bodyLeft = 0;
  /** Answer bytes written and not yet completed. */
  #unread = 0;
  #ended = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    method: ServerMethodDefinition<unknown, unknown>,
    next: ServerInterceptingCallInterface,
    stream: ServerHttp2Stream,
    options: FlowOptions,
  ) {
    this.nextCall = next;
    this.#next = next;
    this.#stream = stream;
    this.#options = options;
    this.#path = method.path;
    this.#requestStream = method.requestStream;
    this.#connection = options.connections.get(next.getPeer());
    // Before grpc-js's own listener, so that a refused chunk is never decoded.
    stream.prependListener("data", this.#onData);
    stream.once("close", () => {
      this.#end();
      if (this.#connection !== undefined) this.#written(this.#connection, this.#unread);
    });
    this.#timer = setTimeout(() => this.#timedOut(), options.requestTimeoutMs);
    this.#timer.unref();
  }

  start(listener: Listener): void {
    this.#next.start({
      onReceiveMetadata: (metadata: Metadata) => listener.onReceiveMetadata(metadata),
      onReceiveMessage: (message: unknown) => {
        if (this.#requestStream) {
          // The request has started to arrive; each message is handed on as it comes.
          this.#arrived();
          this.#give(this.#complete.shift() ?? 0);
        }
        listener.onReceiveMessage(message);
      },
      onReceiveHalfClose: () => {
        this.#arrived();
        listener.onReceiveHalfClose();
      },
      onCancel: () => {
        this.#end();
        listener.onCancel();
      },
    });
  }

  sendMetadata(metadata: Metadata): void {
    this.#next.sendMetadata(metadata);
  }

  sendMessage(message: unknown, callback: () => void): void {
    // A unary request has been handled once its answer is sent: its bytes are
    // free now, not when a client that does not read lets the status through.
    if (!this.#requestStream) this.#end();
    const connection = this.#connection;
    if (connection === undefined) return this.#next.sendMessage(message, callback);
    const write = { bytes: 0, done: false };
    const before = this.#stream.writableLength;
    this.#next.sendMessage(message, () => {
      write.done = true;
      this.#written(connection, write.bytes);
      callback();
    });
    if (write.done) return;
    write.bytes = Math.max(0, this.#stream.writableLength - before);
    this.#unread += write.bytes;
    this.#options.connections.addUnread(connection, write.bytes);
  }

  sendStatus(status: Parameters<ServerInterceptingCallInterface["sendStatus"]>[0]): void {
    // The request is done with: its bytes are free even while the answer waits to be read.
    this.#end();
    this.#next.sendStatus(status);
  }

  startRead(): void {
    this.#next.startRead();
  }

  getPeer(): string {
    return this.#next.getPeer();
  }

  getDeadline(): ReturnType<ServerInterceptingCallInterface["getDeadline"]> {
    return this.#next.getDeadline();
  }

  getHost(): string {
    return this.#next.getHost();
  }

  getAuthContext(): ReturnType<ServerInterceptingCallInterface["getAuthContext"]> {
    return this.#next.getAuthContext();
  }

  getConnectionInfo(): ReturnType<ServerInterceptingCallInterface["getConnectionInfo"]> {
    return this.#next.getConnectionInfo();
  }

  getMetricsRecorder(): ReturnType<ServerInterceptingCallInterface["getMetricsRecorder"]> {
    return this.#next.getMetricsRecorder();
  }

  readonly #onData = (chunk: Buffer): void => {
    if (this.#ended) return;
    if (!this.#reserve(chunk.length)) return;
    this.#partial += chunk.length;
    // Follow the message boundaries, for the compressed flags and the streaming requests' accounts.
    let at = 0;
    while (at < chunk.length) {
      if (this.#prefixSeen < PREFIX_BYTES) {
        const n = Math.min(PREFIX_BYTES - this.#prefixSeen, chunk.length - at);
        chunk.copy(this.#prefix, this.#prefixSeen, at, at + n);
        this.#prefixSeen += n;
        at += n;
        if (this.#prefixSeen < PREFIX_BYTES) break;
        this.#bodyLeft = this.#prefix.readUInt32BE(1);
        // A compressed message counts as the most it may decompress to.
        if ((this.#prefix[0]! & 1) === 1) {
          const extra = Math.max(0, this.#options.maxReceiveBytes - this.#bodyLeft);
          if (!this.#reserve(extra)) return;
          this.#partial += extra;
        }
      } else {
        const n = Math.min(this.#bodyLeft, chunk.length - at);
        this.#bodyLeft -= n;
        at += n;
      }
      if (this.#prefixSeen === PREFIX_BYTES && this.#bodyLeft === 0) {
        this.#complete.push(this.#partial);
        this.#partial = 0;
        this.#prefixSeen = 0;
      }
    }
  };

  #reserve(bytes: number): boolean {
    if (bytes === 0) return true;
    if (this.#options.inflight.tryReserve(bytes)) {
      this.#reserved += bytes;
      return true;
    }
    this.#refuse(this.#options.inflight.refusal());
    return false;
  }

  #give(bytes: number): void {
    const given = Math.min(bytes, this.#reserved);
    this.#reserved -= given;
    this.#options.inflight.release(given);
  }

  #written(connection: GrpcConnection, bytes: number): void {
    const done = Math.min(bytes, this.#unread);
    this.#unread -= done;
    this.#options.connections.removeUnread(connection, done);
  }

  /** The request has arrived (in full, or for streaming requests, started to): no request timeout any more. */
  #arrived(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #timedOut(): void {
    this.#timer = undefined;
    if (this.#ended) return;
    this.#refuse(
      new IrisError(Code.DEADLINE_EXCEEDED, `the request did not arrive in full within ${this.#options.requestTimeoutMs} ms of the call's start`),
    );
  }

  /** Ends the call now with `error`'s status; the request bytes it held are given back. */
  #refuse(error: IrisError): void {
    if (this.#ended) return;
    this.#end();
    this.#next.sendStatus(toServiceStatus(error, this.#options.logger, this.#path));
  }

  /** The call is done with its request (answered, refused or cancelled). */
  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#arrived();
    this.#stream.off("data", this.#onData);
    this.#give(this.#reserved);
    this.#complete.length = 0;
  }
}

/**
 * What each gRPC call holds in memory, bounded: one RequestFlow per call,
 * kept by the call's interceptor (./calls.ts), next to the HTTP/2 stream.
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
 *   with DEADLINE_EXCEEDED, which frees its stream and its bytes. One timer
 *   serves every call of the port (RequestDeadlines), not one per call.
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
 * would fail. The request's chunks reach the flow through the base call's
 * `handleDataFrame`, hooked once for the class by ./calls.ts (a `data`
 * listener of its own on every stream cost each call listener bookkeeping
 * and a copy of the listener array per chunk); where that hook cannot be
 * placed, the flow listens to the stream itself.
 */
import type { ServerHttp2Stream } from "node:http2";
import { Code, IrisError } from "../../errors.js";
import type { InflightBytes } from "../limits.js";
import type { GrpcConnection, GrpcConnections } from "./connections.js";

export interface FlowOptions {
  inflight: InflightBytes;
  connections: GrpcConnections;
  /** The receive limit: what a compressed message is counted as. */
  maxReceiveBytes: number;
  requestTimeoutMs: number;
}

/** The 5-byte prefix of each gRPC message: compressed flag, then length. */
const PREFIX_BYTES = 5;

/**
 * The calls whose requests have not arrived in full, oldest first, and one
 * timer, set for the oldest one's deadline: all have the same timeout, so
 * the order they started in is the order their deadlines pass in. The
 * calls are a list linked through the calls themselves: adding and removing
 * one allocates nothing and leaves no reference behind. (With a Set here,
 * under Predict load, 37 % of the young generation's bytes survived each
 * scavenge instead of 24 %, and scavenges cost 1.7 times as much per MB
 * allocated; see docs/performance.md.)
 */
export class RequestDeadlines {
  readonly timeoutMs: number;
  #first: RequestFlow | undefined;
  #last: RequestFlow | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
  }

  add(flow: RequestFlow): void {
    flow.previous = this.#last;
    flow.next = undefined;
    if (this.#last === undefined) this.#first = flow;
    else this.#last.next = flow;
    this.#last = flow;
    if (this.#timer === undefined) this.#arm(flow.started);
  }

  /** Removes a flow that add() was given (once). */
  delete(flow: RequestFlow): void {
    const { previous, next } = flow;
    if (previous === undefined) this.#first = next;
    else previous.next = next;
    if (next === undefined) this.#last = previous;
    else next.previous = previous;
    flow.previous = flow.next = undefined;
  }

  /** Sets the timer for the deadline of a call that started at `started`. */
  #arm(started: number): void {
    this.#timer = setTimeout(this.#sweep, Math.max(0, started + this.timeoutMs - performance.now()));
    this.#timer.unref();
  }

  readonly #sweep = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    for (let flow = this.#first; flow !== undefined; flow = this.#first) {
      if (flow.started + this.timeoutMs > now) return this.#arm(flow.started);
      this.delete(flow);
      flow.timedOut();
    }
  };
}

/** The call a RequestFlow belongs to, as the flow sees it. */
export interface FlowCall {
  /** Ends the call now with `error`'s status. */
  refuse(error: IrisError): void;
  /** grpc-js's call below (the base call), which writes answers. */
  readonly below: { sendMessage(message: unknown, callback: () => void): void };
}

/** One call's request bytes, request time and answer bytes. */
export class RequestFlow {
  /** performance.now() when the call started. */
  readonly started: number;
  /** Neighbours in RequestDeadlines' list, while the request is awaited. */
  previous: RequestFlow | undefined;
  next: RequestFlow | undefined;
  readonly #stream: ServerHttp2Stream;
  readonly #options: FlowOptions;
  readonly #deadlines: RequestDeadlines;
  readonly #connection: GrpcConnection | undefined;
  readonly #call: FlowCall;
  /** Request bytes reserved and not given back. */
  #reserved = 0;
  /** Bytes reserved by each message received in full and not yet handed on (streaming requests only). */
  #complete: number[] | undefined;
  /** Bytes reserved by the message being received. */
  #partial = 0;
  /** Bytes of the current message's prefix seen; its flag byte; its length so far. */
  #prefixSeen = 0;
  #flag = 0;
  #length = 0;
  /** Body bytes of the current message still to come. */
  #bodyLeft = 0;
  /** Answer bytes written and not yet completed. */
  #unread = 0;
  #waiting = true;
  #ended = false;
  /** The flow's own `data` listener on the stream, made only when the call does not hand it the chunks. */
  #listener: ((chunk: Buffer) => void) | undefined;

  constructor(
    stream: ServerHttp2Stream,
    connection: GrpcConnection | undefined,
    options: FlowOptions,
    deadlines: RequestDeadlines,
    streaming: boolean,
    call: FlowCall,
    /** Whether the call hands each request chunk to dataArrived(); otherwise the flow listens to the stream. */
    handsChunks: boolean,
  ) {
    this.started = performance.now();
    this.#stream = stream;
    this.#connection = connection;
    this.#options = options;
    this.#deadlines = deadlines;
    this.#call = call;
    if (streaming) this.#complete = [];
    // Before grpc-js's own listener, so that a refused chunk is never decoded.
    if (!handsChunks) {
      this.#listener = (chunk) => this.#onData(chunk);
      stream.prependListener("data", this.#listener);
    }
    deadlines.add(this);
  }

  /** A message of the request has been decoded and is handed on (a streaming request's bytes are given back one message at a time). */
  messageArrived(): void {
    const complete = this.#complete;
    if (complete === undefined) return;
    // The request has started to arrive: no request timeout any more.
    this.arrived();
    this.#give(complete.shift() ?? 0);
  }

  /** The request has arrived (in full, or for streaming requests, started to): no request timeout any more. */
  arrived(): void {
    if (!this.#waiting) return;
    this.#waiting = false;
    this.#deadlines.delete(this);
  }

  /**
   * Writes an answer through the call below, counting its bytes against the
   * connection until the write completes. A unary request has been handled
   * once its answer is sent: its bytes are free now, not when a client that
   * does not read lets the status through.
   */
  send(message: unknown, callback: () => void): void {
    if (this.#complete === undefined) this.end();
    const connection = this.#connection;
    if (connection === undefined) return this.#call.below.sendMessage(message, callback);
    const write = { bytes: 0, done: false };
    const before = this.#stream.writableLength;
    this.#call.below.sendMessage(message, () => {
      write.done = true;
      this.#written(connection, write.bytes);
      callback();
    });
    if (write.done) return;
    write.bytes = Math.max(0, this.#stream.writableLength - before);
    this.#unread += write.bytes;
    this.#options.connections.addUnread(connection, write.bytes);
  }

  /** Called when the request time is up (by RequestDeadlines). */
  timedOut(): void {
    this.#waiting = false;
    if (this.#ended) return;
    this.#call.refuse(
      new IrisError(Code.DEADLINE_EXCEEDED, `the request did not arrive in full within ${this.#options.requestTimeoutMs} ms of the call's start`),
    );
  }

  /** The call is done with its request (answered, refused or cancelled): its bytes are given back. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.arrived();
    if (this.#listener !== undefined) this.#stream.off("data", this.#listener);
    this.#give(this.#reserved);
    if (this.#complete !== undefined) this.#complete.length = 0;
  }

  /**
   * The call has ended (grpc-js's onCancel: after its status, or when its
   * stream closed first). Answer bytes still unread are counted until the
   * stream closes; a stream listener is only added for those.
   */
  ended(): void {
    this.end();
    const connection = this.#connection;
    if (connection === undefined || this.#unread === 0) return;
    if (this.#stream.closed || this.#stream.destroyed) this.#written(connection, this.#unread);
    else this.#stream.once("close", () => this.#written(connection, this.#unread));
  }

  /**
   * A chunk of the request has arrived, before grpc-js decodes it; false when
   * the call was refused for it (the chunk must not be decoded).
   */
  dataArrived(chunk: Buffer): boolean {
    this.#onData(chunk);
    return !this.#ended;
  }

  #onData(chunk: Buffer): void {
    if (this.#ended) return;
    if (!this.#reserve(chunk.length)) return;
    this.#partial += chunk.length;
    // Follow the message boundaries, for the compressed flags and the streaming requests' accounts.
    let at = 0;
    while (at < chunk.length) {
      if (this.#prefixSeen < PREFIX_BYTES) {
        const b = chunk[at++]!;
        if (this.#prefixSeen === 0) this.#flag = b;
        else this.#length = this.#length * 256 + b;
        if (++this.#prefixSeen < PREFIX_BYTES) continue;
        this.#bodyLeft = this.#length;
        this.#length = 0;
        // A compressed message counts as the most it may decompress to.
        if ((this.#flag & 1) === 1) {
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
        this.#complete?.push(this.#partial);
        this.#partial = 0;
        this.#prefixSeen = 0;
      }
    }
  }

  #reserve(bytes: number): boolean {
    if (bytes === 0) return true;
    if (this.#options.inflight.tryReserve(bytes)) {
      this.#reserved += bytes;
      return true;
    }
    this.#call.refuse(this.#options.inflight.refusal());
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
}

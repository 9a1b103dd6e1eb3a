/**
 * The per-call machinery of the gRPC port (see ../calls.ts), as one grpc-js
 * server interceptor, so it covers every service on the port (iris.v1, the
 * Open Inference Protocol, health, reflection) alike: it makes the Call when
 * the request's metadata arrives, runs the stages' `start` (a throw refuses
 * the call before its message is read), returns the request id, when there
 * is one, in the response metadata (in the trailers when the call ends
 * without headers), answers a request message that could not be decoded
 * with INVALID_ARGUMENT (see ./codec.ts), notes the rows and model version
 * an answer carries, and runs the stages' `end` exactly once: at the
 * status, or at cancellation.
 * Each call also keeps a RequestFlow (./flow.ts): its request bytes and
 * time, and its answer bytes, bounded.
 *
 * Some statuses are sent by grpc-js itself, past the interceptors: a
 * request over the receive limit (RESOURCE_EXHAUSTED), a response that
 * cannot be serialized (INTERNAL), a deadline that passes
 * (DEADLINE_EXCEEDED). Such a call only looks cancelled from here; its end
 * reports the status grpc-js actually sent, read from the HTTP/2 stream's
 * sent headers or trailers (see sentStatus). Calls of a method the port
 * does not serve (UNIMPLEMENTED) and requests that are not gRPC at all are
 * refused by grpc-js before any interceptor exists: no stage sees them.
 */
import type { Http2Stream, ServerHttp2Stream } from "node:http2";
import { Metadata, type ServerInterceptingCallInterface, type ServerInterceptor, type ServerMethodDefinition } from "@grpc/grpc-js";
import { Code } from "../../errors.js";
import type { Logger } from "../../logger.js";
import { endCall, mintsRequestIds, REQUEST_ID_KEY, requestIdOf, startCall, type Call, type CallMethod, type CallStage } from "../calls.js";
import { undecodableError } from "./codec.js";
import type { GrpcConnection } from "./connections.js";
import { RequestDeadlines, RequestFlow, type FlowCall, type FlowOptions } from "./flow.js";
import { completeResponseOptions } from "./response-options.js";
import { toServiceStatus } from "./status.js";

/** go-grpc-prometheus's grpc_type of a method. */
function kindOf(method: ServerMethodDefinition<unknown, unknown>): string {
  if (method.requestStream) return method.responseStream ? "bidi_stream" : "client_stream";
  return method.responseStream ? "server_stream" : "unary";
}

/** Every method of a service definition, as the stages' `declare` sees it. */
export function declareMethods(stages: readonly CallStage[], definition: Record<string, ServerMethodDefinition<unknown, unknown>>): void {
  for (const method of Object.values(definition)) {
    const [, service = "", name = ""] = method.path.split("/");
    const declared: CallMethod = { api: "grpc", service, method: name, kind: kindOf(method) };
    for (const stage of stages) stage.declare?.(declared);
  }
}

/**
 * The grpc-status that grpc-js itself sent on a call, or undefined when it
 * sent none (the client cancelled, or the connection was lost), read from
 * the HTTP/2 stream's sent headers or trailers (node:http2's `sentHeaders`,
 * `sentTrailers`).
 */
function sentStatus(stream: Http2Stream): number | undefined {
  const status = stream.sentTrailers?.["grpc-status"] ?? stream.sentHeaders?.["grpc-status"];
  return status === undefined ? undefined : Number(status);
}

/** What an answer says of the rows it predicted and the model that answered, for the messages that say it. */
function describe(call: Call, message: unknown): void {
  if (typeof message !== "object" || message === null) return;
  const m = message as {
    modelVersion?: unknown;
    prediction?: unknown;
    classIndices?: ArrayLike<unknown>;
    outputs?: { shape?: number[] }[];
  };
  if (typeof m.modelVersion === "string" && m.modelVersion !== "") call.modelVersion = m.modelVersion;
  if (m.prediction !== undefined) call.rows = 1;
  else if (m.classIndices !== undefined) call.rows = m.classIndices.length;
  else if (Array.isArray(m.outputs) && typeof m.outputs[0]?.shape?.[0] === "number") call.rows = m.outputs[0].shape[0];
}

function textOf(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** A verified peer certificate's subject, `CN=..., O=...` (grpc-js gives one only when the TLS handshake verified it). */
export function subjectOf(certificate: { subject?: Partial<Record<string, string | string[]>> } | undefined): string | undefined {
  if (certificate?.subject === undefined) return undefined;
  const parts = Object.entries(certificate.subject).flatMap(([k, v]) => (v === undefined ? [] : Array.isArray(v) ? v : [v]).map((x) => `${k}=${x}`));
  return parts.length === 0 ? undefined : parts.join(", ");
}

export interface CallInterceptorOptions extends FlowOptions {
  stages: readonly CallStage[];
  logger: Logger;
}

/** What a call knows of its connection, found once per HTTP/2 session and kept for its later calls. */
interface Peer {
  readonly peer: string;
  readonly clientSubject: string | undefined;
  readonly connection: GrpcConnection | undefined;
}

/** What every call of the port shares. */
interface Port {
  readonly options: CallInterceptorOptions;
  readonly deadlines: RequestDeadlines;
  /** Whether calls without a usable request id get a new one (see ../calls.ts). */
  readonly mintRequestIds: boolean;
}

/** A method as the stages see it, with its path, made once per method. */
interface MethodInfo extends CallMethod {
  readonly path: string;
  readonly requestStream: boolean;
}

type Listener = Parameters<ServerInterceptingCallInterface["start"]>[0];
type Status = Parameters<ServerInterceptingCallInterface["sendStatus"]>[0];

let missingStreamLogged = false;

/**
 * The HTTP/2 stream of grpc-js's base call (see ./flow.ts), or undefined
 * (logged once) with a grpc-js that keeps none. Other interceptors (from
 * credentials) may sit in between; each keeps the next as `nextCall`.
 */
function streamOf(next: ServerInterceptingCallInterface, logger: Logger): ServerHttp2Stream | undefined {
  let call: unknown = next;
  for (let depth = 0; depth < 8 && typeof call === "object" && call !== null; depth++) {
    const stream = (call as { stream?: ServerHttp2Stream }).stream;
    if (stream !== undefined && typeof stream.prependListener === "function") return stream;
    call = (call as { nextCall?: unknown }).nextCall;
  }
  if (!missingStreamLogged) {
    missingStreamLogged = true;
    logger.error("this grpc-js keeps no HTTP/2 stream on its calls: request and answer bytes go uncounted");
  }
  return undefined;
}

/**
 * Marks grpc-js's base call class once its handleDataFrame is hooked. One
 * symbol per instance of this module: another instance (tests load modules
 * anew per file, grpc-js once) wraps the method again, for its own calls.
 */
const HOOKED = Symbol("iris.handsChunks");

/**
 * Whether `base`, grpc-js's base call, hands each request chunk to the
 * GrpcCall listening to it before decoding it (see ./flow.ts): its class's
 * `handleDataFrame` (not public API; grpc-js is pinned) is wrapped once, the
 * first time. A chunk that got the call refused is not decoded. Calls with
 * something else listening to the base call (interceptors from credentials)
 * are left alone: their flows listen to the stream themselves.
 */
function handsChunks(base: ServerInterceptingCallInterface): boolean {
  const proto = Object.getPrototypeOf(base) as { handleDataFrame?: unknown; [HOOKED]?: true };
  if (proto[HOOKED] === true) return true;
  const original = proto.handleDataFrame;
  if (typeof original !== "function") return false;
  proto.handleDataFrame = function handleDataFrame(this: { listener: unknown }, chunk: Buffer): void {
    const listener = this.listener;
    if (listener instanceof GrpcCall && !listener.dataArrived(chunk)) return;
    (original as (chunk: Buffer) => void).call(this, chunk);
  };
  proto[HOOKED] = true;
  return true;
}

/**
 * The port's one server interceptor: every call of every service becomes a
 * GrpcCall, which grpc-js drives directly (no ServerInterceptingCall
 * layers: each costs every call a dozen objects).
 */
export function callInterceptor(options: CallInterceptorOptions): ServerInterceptor {
  const methods = new Map<string, MethodInfo>();
  const peers = new WeakMap<object, Peer>();
  const port: Port = { options, deadlines: new RequestDeadlines(options.requestTimeoutMs), mintRequestIds: mintsRequestIds(options.stages) };
  const peerOf = (next: ServerInterceptingCallInterface, stream: ServerHttp2Stream | undefined): Peer => {
    const session = stream?.session;
    let known = session === undefined ? undefined : peers.get(session);
    if (known === undefined) {
      const peer = next.getPeer();
      known = { peer, clientSubject: subjectOf(next.getAuthContext().sslPeerCertificate), connection: options.connections.get(peer) };
      if (session !== undefined) peers.set(session, known);
    }
    return known;
  };
  return (method: ServerMethodDefinition<unknown, unknown>, next: ServerInterceptingCallInterface) => {
    let info = methods.get(method.path);
    if (info === undefined) {
      const [, service = "", name = ""] = method.path.split("/");
      info = { api: "grpc", service, method: name, kind: kindOf(method), path: method.path, requestStream: method.requestStream };
      methods.set(method.path, info);
    }
    const stream = streamOf(next, options.logger);
    // grpc-js's type asks for its ServerInterceptingCall class; it only ever uses the interface GrpcCall implements.
    return new GrpcCall(info, next, stream, peerOf(next, stream), port) as unknown as ReturnType<ServerInterceptor>;
  };
}

/**
 * One call, between grpc-js's base call (`next`) and the handler: the
 * handler's side calls start/send* on it; the base call's side calls its
 * on* methods (it is the base call's listener).
 */
class GrpcCall implements ServerInterceptingCallInterface, Listener, FlowCall {
  readonly #method: MethodInfo;
  readonly #next: ServerInterceptingCallInterface;
  readonly #stream: ServerHttp2Stream | undefined;
  readonly #peer: Peer;
  readonly #port: Port;
  readonly #flow: RequestFlow | undefined;
  #listener: Listener | undefined;
  #call: Call | undefined;
  #sentMetadata = false;
  #sentStatus = false;
  #refused = false;
  /** Whether the call still counts as in progress on its connection (see GrpcConnections.callStarted). */
  #inProgress = false;

  constructor(
    method: MethodInfo,
    next: ServerInterceptingCallInterface,
    stream: ServerHttp2Stream | undefined,
    peer: Peer,
    port: Port,
  ) {
    this.#method = method;
    this.#next = next;
    this.#stream = stream;
    this.#peer = peer;
    this.#port = port;
    if (peer.connection !== undefined) {
      port.options.connections.callStarted(peer.connection, stream?.session);
      this.#inProgress = true;
    }
    // grpc-js's base call is the one below (no interceptor from credentials in between).
    const belowIsBase = stream !== undefined && (next as { stream?: unknown }).stream === stream;
    if (belowIsBase) completeResponseOptions(next, port.options.logger);
    this.#flow =
      stream === undefined
        ? undefined
        : new RequestFlow(
            stream,
            peer.connection,
            port.options,
            port.deadlines,
            method.requestStream,
            this,
            // The base call will call this call's dataArrived.
            belowIsBase && handsChunks(next),
          );
  }

  // The handler's side.

  start(listener: Listener): void {
    this.#listener = listener;
    this.#next.start(this);
    // A stream already gone: the base call does not start, and will not call onCancel.
    if (this.#stream !== undefined && (this.#stream.closed || this.#stream.destroyed)) this.#done();
  }

  sendMetadata(metadata: Metadata): void {
    this.#sentMetadata = true;
    const id = this.#call?.requestId;
    if (id !== undefined) metadata.set(REQUEST_ID_KEY, id);
    this.#next.sendMetadata(metadata);
  }

  sendMessage(message: unknown, callback: () => void): void {
    // The response metadata with the request id goes first; without one, the base call sends its own.
    if (!this.#sentMetadata && this.#call?.requestId !== undefined) this.sendMetadata(new Metadata());
    if (this.#call !== undefined) describe(this.#call, message);
    if (this.#flow === undefined) this.#next.sendMessage(message, callback);
    else this.#flow.send(message, callback);
  }

  sendStatus(status: Status): void {
    if (this.#sentStatus) return;
    this.#sentStatus = true;
    this.#done();
    this.#end(status.code);
    // The request is done with: its bytes are free even while the answer waits to be read.
    this.#flow?.end();
    const id = this.#call?.requestId;
    if (!this.#sentMetadata && id !== undefined) {
      // A trailers-only answer: the request id goes with the status.
      const trailers = status.metadata ?? new Metadata();
      trailers.set(REQUEST_ID_KEY, id);
      this.#next.sendStatus({ ...status, metadata: trailers });
      return;
    }
    this.#next.sendStatus(status);
  }

  startRead(): void {
    this.#next.startRead();
  }

  getPeer(): string {
    return this.#peer.peer;
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

  // The base call's side.

  onReceiveMetadata(metadata: Metadata): void {
    const call: Call = {
      api: "grpc",
      service: this.#method.service,
      method: this.#method.method,
      kind: this.#method.kind,
      requestId: requestIdOf(metadata.get(REQUEST_ID_KEY)[0], this.#port.mintRequestIds),
      peer: this.#peer.peer,
      started: this.#flow?.started ?? performance.now(),
      authorization: textOf(metadata.get("authorization")[0]),
      clientSubject: this.#peer.clientSubject,
      stagesStarted: 0,
      ended: false,
    };
    this.#call = call;
    try {
      startCall(this.#port.options.stages, call);
    } catch (err) {
      // Refused before its message is read: the handler never hears of the call.
      this.refuse(err);
      return;
    }
    this.#listener!.onReceiveMetadata(metadata);
  }

  onReceiveMessage(message: unknown): void {
    this.#flow?.messageArrived();
    // A request the deserializer could not decode (./codec.ts) is answered here.
    const error = undecodableError(message, this.#method.path);
    if (error === undefined) return this.#listener!.onReceiveMessage(message);
    this.refuse(error);
  }

  onReceiveHalfClose(): void {
    this.#flow?.arrived();
    if (!this.#refused) this.#listener!.onReceiveHalfClose();
  }

  onCancel(): void {
    this.#done();
    this.#flow?.ended();
    // After a status from grpc-js itself too (see sentStatus).
    this.#end(this.#stream === undefined ? Code.CANCELLED : (sentStatus(this.#stream) ?? Code.CANCELLED));
    this.#listener!.onCancel();
  }

  /** A request chunk, from the base call before it decodes it (see handsChunks); false: do not decode it. */
  dataArrived(chunk: Buffer): boolean {
    return this.#flow === undefined || this.#flow.dataArrived(chunk);
  }

  /** The base call (for the flow's writes). */
  get below(): ServerInterceptingCallInterface {
    return this.#next;
  }

  /** Ends the call now with `reason`'s status (see ./status.ts). */
  refuse(reason: unknown): void {
    if (this.#sentStatus) return;
    this.#refused = true;
    const { code, details, metadata } = toServiceStatus(reason, this.#port.options.logger, this.#method.path);
    this.sendStatus({ code, details, metadata: metadata ?? new Metadata() });
  }

  /** The call no longer counts as in progress on its connection (once). */
  #done(): void {
    if (!this.#inProgress) return;
    this.#inProgress = false;
    this.#port.options.connections.callEnded(this.#peer.connection!);
  }

  /** Runs the stages' `end`, once. */
  #end(status: number): void {
    if (this.#call !== undefined) endCall(this.#port.options.stages, this.#call, status);
  }

}

/**
 * The per-call machinery of the gRPC port (see ../calls.ts), as one grpc-js
 * server interceptor, so it covers every service on the port (iris.v1, the
 * Open Inference Protocol, health, reflection) alike: it makes the Call when
 * the request's metadata arrives, runs the stages' `start` (a throw refuses
 * the call before its message is read), returns the request id in the
 * response metadata (in the trailers when the call ends without headers),
 * answers a request message that could not be decoded with INVALID_ARGUMENT
 * (see ./codec.ts), notes the rows and model version an answer carries, and
 * runs the stages' `end` exactly once: at the status, or at cancellation.
 *
 * Some statuses are sent by grpc-js itself, past the interceptors: a
 * request over the receive limit (RESOURCE_EXHAUSTED), a response that
 * cannot be serialized (INTERNAL), a deadline that passes
 * (DEADLINE_EXCEEDED). Such a call only looks cancelled from here; its end
 * reports the status grpc-js actually sent, read from the HTTP/2 stream's
 * sent headers or trailers (see sentStatus). Calls of a method the port does not serve
 * (UNIMPLEMENTED) and requests that are not gRPC at all are refused by
 * grpc-js before any interceptor exists: no stage sees them.
 */
import type { Http2Stream } from "node:http2";
import {
  Metadata,
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  type ServerMethodDefinition,
} from "@grpc/grpc-js";
import { Code } from "../../errors.js";
import type { Logger } from "../../logger.js";
import { REQUEST_ID_KEY, requestIdOf, type Call, type CallMethod, type CallStage } from "../calls.js";
import { undecodableError } from "./codec.js";
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
 * sent none (the client cancelled, or the connection was lost). grpc-js's
 * base call keeps its HTTP/2 stream as `stream`, which is not public API;
 * what is read from it is (`sentHeaders`, `sentTrailers` of node:http2). A
 * grpc-js without that field makes this undefined, and such calls count as
 * CANCELLED; test/metrics.test.ts would notice.
 */
function sentStatus(next: ServerInterceptingCallInterface): number | undefined {
  let call: unknown = next;
  // Other interceptors (from credentials) may sit in between; each keeps the next as `nextCall`.
  for (let depth = 0; depth < 8 && typeof call === "object" && call !== null; depth++) {
    const stream = (call as { stream?: Partial<Http2Stream> }).stream;
    if (stream !== undefined) {
      const status = stream.sentTrailers?.["grpc-status"] ?? stream.sentHeaders?.["grpc-status"];
      return status === undefined ? undefined : Number(status);
    }
    call = (call as { nextCall?: unknown }).nextCall;
  }
  return undefined;
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

export function callInterceptor(stages: readonly CallStage[], logger: Logger): ServerInterceptor {
  return (method: ServerMethodDefinition<unknown, unknown>, next: ServerInterceptingCallInterface) => {
    const [, service = "", name = ""] = method.path.split("/");
    const kind = kindOf(method);
    let call: Call | undefined;
    let ended = false;
    let sentMetadata = false;
    let refused = false;
    const end = (status: number): void => {
      if (ended || call === undefined) return;
      ended = true;
      const done = { status, ms: performance.now() - call.started };
      for (const stage of stages) stage.end?.(call, done);
    };
    const intercepting: ServerInterceptingCall = new ServerInterceptingCall(next, {
      start: (startNext) =>
        startNext({
          onReceiveMetadata: (metadata, metadataNext) => {
            call = {
              api: "grpc",
              service,
              method: name,
              kind,
              requestId: requestIdOf(metadata.get(REQUEST_ID_KEY)[0]),
              peer: next.getPeer(),
              started: performance.now(),
              authorization: textOf(metadata.get("authorization")[0]),
              clientSubject: subjectOf(next.getAuthContext().sslPeerCertificate),
            };
            try {
              for (const stage of stages) stage.start?.(call);
            } catch (err) {
              const { code, details, metadata: trailers } = toServiceStatus(err, logger, method.path);
              intercepting.sendStatus({ code, details, metadata: trailers ?? new Metadata() });
              return;
            }
            metadataNext(metadata);
          },
          onReceiveMessage: (message, messageNext) => {
            // A request the deserializer could not decode (./codec.ts) is answered here.
            const error = undecodableError(message, method.path);
            if (error === undefined) return messageNext(message);
            refused = true;
            const { code, details, metadata: trailers } = toServiceStatus(error, logger, method.path);
            intercepting.sendStatus({ code, details, metadata: trailers ?? new Metadata() });
          },
          onReceiveHalfClose: (halfCloseNext) => {
            if (!refused) halfCloseNext();
          },
          // After a status from grpc-js itself too (see sentStatus).
          onCancel: () => end(sentStatus(next) ?? Code.CANCELLED),
        }),
      sendMetadata: (metadata, metadataNext) => {
        sentMetadata = true;
        if (call !== undefined) metadata.set(REQUEST_ID_KEY, call.requestId);
        metadataNext(metadata);
      },
      sendMessage: (message, messageNext) => {
        if (call !== undefined) describe(call, message);
        messageNext(message);
      },
      sendStatus: (status, statusNext) => {
        end(status.code);
        if (!sentMetadata && call !== undefined) {
          // A trailers-only answer: the request id goes with the status.
          const trailers = status.metadata ?? new Metadata();
          trailers.set(REQUEST_ID_KEY, call.requestId);
          statusNext({ ...status, metadata: trailers });
          return;
        }
        statusNext(status);
      },
    });
    return intercepting;
  };
}

/**
 * The per-call machinery of the HTTP port (see ../calls.ts), as fastify
 * hooks: `onRequest` makes the Call (`request.call`) with the route as
 * declared and the request id (returned in the `x-request-id` header, when
 * there is one), and runs the stages' `start` (a throw is answered by the
 * error handler, before the body is read); handlers note the rows and model
 * version on `request.call`; `onResponse` (or `onRequestAbort`) runs the
 * stages' `end` exactly once.
 */
import type { Socket } from "node:net";
import { TLSSocket } from "node:tls";
import type { FastifyInstance } from "fastify";
import { endCall, mintsRequestIds, REQUEST_ID_KEY, requestIdOf, startCall, type Call, type CallStage } from "../calls.js";
import { subjectOf } from "../grpc/calls.js";

/** The subject of the client certificate a TLS connection presented, when it was verified against the client CA. */
function verifiedSubject(socket: Socket): string | undefined {
  if (!(socket instanceof TLSSocket) || !socket.authorized) return undefined;
  return subjectOf(socket.getPeerCertificate());
}

declare module "fastify" {
  interface FastifyRequest {
    /** This request as the per-call machinery sees it. */
    call: Call;
  }
}

/** The status an aborted request ends with (the client closed the connection first), as nginx logs it. */
const CLIENT_CLOSED_REQUEST = 499;

export function registerCalls(app: FastifyInstance, stages: readonly CallStage[]): void {
  const end = (call: Call | undefined, status: number): void => {
    if (call !== undefined) endCall(stages, call, status);
  };
  const mint = mintsRequestIds(stages);
  app.decorateRequest("call", undefined as unknown as Call);
  app.addHook("onRequest", (request, reply, done) => {
    const call: Call = {
      api: "http",
      service: request.method,
      method: request.routeOptions.url ?? "",
      kind: "http",
      requestId: requestIdOf(request.headers[REQUEST_ID_KEY], mint),
      peer: `${request.ip}:${request.socket.remotePort ?? 0}`,
      started: performance.now(),
      authorization: request.headers.authorization,
      clientSubject: verifiedSubject(request.socket),
      stagesStarted: 0,
      ended: false,
    };
    request.call = call;
    if (call.requestId !== undefined) void reply.header(REQUEST_ID_KEY, call.requestId);
    try {
      startCall(stages, call);
    } catch (err) {
      done(err as Error);
      return;
    }
    done();
  });
  app.addHook("onResponse", (request, reply, done) => {
    end(request.call, reply.statusCode);
    done();
  });
  app.addHook("onRequestAbort", (request, done) => {
    end(request.call, CLIENT_CLOSED_REQUEST);
    done();
  });
}

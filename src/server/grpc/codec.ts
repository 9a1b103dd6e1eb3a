/**
 * Every method's serializer and deserializer on the gRPC port pass through
 * here (guardedRegistry wraps each service definition it is given).
 *
 * A request whose bytes are not a valid protobuf encoding must get
 * INVALID_ARGUMENT naming the problem, but grpc-js answers INTERNAL "Error
 * deserializing request" whenever a deserializer throws. So the wrapped
 * deserializers never throw: they return an Undecodable (the hand-written
 * decoders return one themselves; a generated decoder's throw is turned into
 * one here), which is logged at warn with its cause, and the per-call
 * interceptor (./calls.ts) answers it through undecodableError before any
 * handler runs. This covers every method of every service on the port:
 * iris.v1, the Open Inference Protocol, health and reflection.
 *
 * A response that cannot be serialized is a bug of ours: it is logged with
 * its cause, and grpc-js answers INTERNAL "Error serializing response".
 */
import type { Server, ServiceDefinition } from "@grpc/grpc-js";
import { Code, IrisError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import { MalformedMessage, WireReader } from "./wire/reader.js";
import { Undecodable } from "./wire/undecodable.js";

type Definition = Parameters<Server["addService"]>[0];

/**
 * What is wrong with `bytes`, which a generated decoder refused with `err`:
 * the first problem among the message's top-level fields, else (a problem
 * inside a nested message) the decoder's own words.
 */
function problemOf(bytes: Uint8Array, err: unknown): string {
  const r = new WireReader(bytes);
  try {
    while (r.pos < bytes.length) r.skip(r.tag(bytes.length), bytes.length);
  } catch (scanned) {
    if (scanned instanceof MalformedMessage) return scanned.message;
  }
  return `a nested message is malformed (${err instanceof Error ? err.message : String(err)})`;
}

/** The Undecodable for `bytes`, which a generated decoder of `method`'s request refused with `err`; logged at warn. */
export function undecodableRequest(bytes: Uint8Array, err: unknown, method: string, logger: Logger): Undecodable {
  const undecodable = new Undecodable(problemOf(bytes, err), bytes.length);
  logger.warn({ err, method, bytes: bytes.length, problem: undecodable.problem }, "malformed request message");
  return undecodable;
}

function guardCodecs<D extends Definition>(definition: D, logger: Logger): D {
  const guarded: Record<string, ServiceDefinition[string]> = {};
  for (const [name, method] of Object.entries(definition as ServiceDefinition)) {
    const { path, requestDeserialize, responseSerialize } = method;
    guarded[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        let request: unknown;
        try {
          request = requestDeserialize(bytes);
        } catch (err) {
          return undecodableRequest(bytes, err, path, logger);
        }
        if (request instanceof Undecodable) {
          logger.warn({ method: path, bytes: request.bytes, problem: request.problem }, "malformed request message");
        }
        return request;
      },
      responseSerialize: (value: unknown) => {
        try {
          return responseSerialize(value);
        } catch (err) {
          logger.error({ err, method: path }, "internal error: the response could not be serialized");
          throw err;
        }
      },
    };
  }
  return guarded as unknown as D;
}

/** A view of `server` whose addService guards every definition it is given (for health and reflection). */
export function guardedRegistry(server: Pick<Server, "addService">, logger: Logger): Pick<Server, "addService"> {
  return { addService: (definition, implementation) => server.addService(guardCodecs(definition, logger), implementation) };
}

/** The INVALID_ARGUMENT for a request message of `method` (a path) that could not be decoded; undefined for any other message. */
export function undecodableError(message: unknown, method: string): IrisError | undefined {
  if (!(message instanceof Undecodable)) return undefined;
  return new IrisError(Code.INVALID_ARGUMENT, `malformed request message for ${method}: ${message.problem}`);
}

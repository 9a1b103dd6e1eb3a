/**
 * Failures of a method's serializer or deserializer happen inside grpc-js,
 * which answers INTERNAL "Error serializing response" / "Error deserializing
 * request" and logs nothing. guardCodecs wraps every method of a service
 * definition so that such a failure is logged with its cause (the method
 * and the error) before grpc-js answers; an INTERNAL status is never
 * without a log line.
 */
import type { Server, ServiceDefinition } from "@grpc/grpc-js";
import type { Logger } from "../../logger.js";

type Definition = Parameters<Server["addService"]>[0];

function guardCodecs<D extends Definition>(definition: D, logger: Logger): D {
  const guarded: Record<string, ServiceDefinition[string]> = {};
  for (const [name, method] of Object.entries(definition as ServiceDefinition)) {
    const { path, requestDeserialize, responseSerialize } = method;
    guarded[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return requestDeserialize(bytes);
        } catch (err) {
          logger.warn({ err, method: path, bytes: bytes.length }, "malformed request message");
          throw err;
        }
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

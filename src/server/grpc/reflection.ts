/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha), so grpcurl and
 * similar tools work without the .proto files.
 *
 * Everything it describes comes from the descriptors buf compiled from
 * proto/ (src/gen/descriptor-set.json, made by `npm run generate` through
 * scripts/protoc-gen-descriptor-set.mjs): iris.v1, the vendored
 * grpc.health.v1 and google.rpc contracts, and the well-known types they
 * import, each under its canonical file name (`iris.proto`,
 * `grpc/health/v1/health.proto`, `google/rpc/error_details.proto`, ...) with
 * exact field names, imports, proto3 `optional` and comments. A client whose
 * own descriptor pool already holds one of those files (e.g. Python's
 * standard health_pb2) sees the same file, not a clashing copy; and
 * `google.rpc.BadRequest`, sent in error details, can be described too.
 */
import { EventEmitter } from "node:events";
import type { JsonValue } from "@bufbuild/protobuf";
import type { Server, ServerDuplexStream, ServiceDefinition } from "@grpc/grpc-js";
import type { PackageDefinition } from "@grpc/proto-loader";
import { Code } from "../../errors.js";
import type { Logger } from "../../logger.js";
import { undecodableError, undecodableRequest } from "./codec.js";

/** Every compiled file of proto/ (and its imports), binary-encoded. */
async function fileDescriptors(): Promise<Buffer[]> {
  const [{ fromJson, toBinary }, { FileDescriptorProtoSchema, FileDescriptorSetSchema }, { default: descriptorSet }] = await Promise.all([
    import("@bufbuild/protobuf"),
    import("@bufbuild/protobuf/wkt"),
    import("../../gen/descriptor-set.json", { with: { type: "json" } }),
  ]);
  const set = fromJson(FileDescriptorSetSchema, descriptorSet as unknown as JsonValue);
  return set.file.map((file) => Buffer.from(toBinary(FileDescriptorProtoSchema, file)));
}

type Implementation = Parameters<Server["addService"]>[1];
type Handler = (stream: ReflectionStream) => void;
/** What @grpc/reflection's handler uses of a call: messages in ("data", "end"), messages out. */
interface ReflectionStream extends EventEmitter {
  write(message: unknown): void;
  end(): void;
}

const VERSIONS = ["v1", "v1alpha"] as const;
const METHOD = "ServerReflectionInfo";
const pathOf = (version: (typeof VERSIONS)[number]): string => `/grpc.reflection.${version}.ServerReflection/${METHOD}`;

/** @grpc/reflection's service, made on the first call: its definitions (codecs) and handlers, by method path. */
let real: Promise<Map<string, { definition: ServiceDefinition[string]; handler: Handler }>> | undefined;

function realService(): NonNullable<typeof real> {
  real ??= (async () => {
    const { ReflectionService } = await import("@grpc/reflection");
    // ReflectionService reads nothing but the `fileDescriptorProtos` of each
    // entry of a package definition: one entry carrying every file is enough.
    const service = new ReflectionService({ "": { fileDescriptorProtos: await fileDescriptors() } } as unknown as PackageDefinition);
    const methods = new Map<string, { definition: ServiceDefinition[string]; handler: Handler }>();
    service.addToServer({
      addService: (definition, implementation: Implementation) => {
        for (const [name, method] of Object.entries(definition as ServiceDefinition)) {
          methods.set(method.path, { definition: method, handler: implementation[name] as unknown as Handler });
        }
      },
    });
    return methods;
  })();
  return real;
}

/**
 * Registers grpc.reflection.v1 and v1alpha. Loading @grpc/reflection (with
 * proto-loader and protobufjs) and building and indexing the descriptors
 * took a third of the time from start to serving, and most servers are
 * never asked. So the services are registered at once with raw bytes in and
 * out, and the first call loads the real service; each call's messages are
 * decoded and encoded with its codecs and handed to its handler. A message
 * it cannot decode is answered INVALID_ARGUMENT as on every other method
 * (see ./codec.ts).
 */
export function addReflection(server: Pick<Server, "addService">, logger: Logger): void {
  const raw = (bytes: Buffer): Buffer => bytes;
  for (const version of VERSIONS) {
    const path = pathOf(version);
    const definition: ServiceDefinition = {
      [METHOD]: { path, requestStream: true, responseStream: true, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
    };
    const handle = (call: ServerDuplexStream<Buffer, Buffer>): void => {
      // Messages that arrive while the real service loads wait in the stream (paused until then).
      call.pause();
      realService().then(
        (methods) => {
          const { definition: codecs, handler } = methods.get(path)!;
          const stream = new EventEmitter() as ReflectionStream;
          stream.write = (message) => void call.write(codecs.responseSerialize(message));
          stream.end = () => void call.end();
          handler(stream);
          call.on("data", (bytes: Buffer) => {
            let message: unknown;
            try {
              message = codecs.requestDeserialize(bytes);
            } catch (err) {
              const error = undecodableError(undecodableRequest(bytes, err, path, logger), path)!;
              call.emit("error", { code: error.code, details: error.message });
              return;
            }
            stream.emit("data", message);
          });
          call.on("end", () => stream.emit("end"));
          call.resume();
        },
        (err: unknown) => {
          logger.error({ err, method: path }, "internal error");
          call.emit("error", { code: Code.INTERNAL, details: "internal error" });
        },
      );
    };
    server.addService(definition, { [METHOD]: handle });
  }
}

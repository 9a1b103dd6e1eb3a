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
import { fromJson, toBinary, type JsonValue } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import type { Server } from "@grpc/grpc-js";
import type { PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import descriptorSet from "../../gen/descriptor-set.json" with { type: "json" };

/** Every compiled file of proto/ (and its imports), binary-encoded. */
function fileDescriptors(): Buffer[] {
  const set = fromJson(FileDescriptorSetSchema, descriptorSet as unknown as JsonValue);
  return set.file.map((file) => Buffer.from(toBinary(FileDescriptorProtoSchema, file)));
}

let cached: ReflectionService | undefined;

/** The reflection service; the descriptors are built once per process, on first use. */
function reflectionService(): ReflectionService {
  // ReflectionService reads nothing but the `fileDescriptorProtos` of each
  // entry of a package definition: one entry carrying every file is enough.
  cached ??= new ReflectionService({ "": { fileDescriptorProtos: fileDescriptors() } } as unknown as PackageDefinition);
  return cached;
}

type Definition = Parameters<Server["addService"]>[0];
type Implementation = Parameters<Server["addService"]>[1];

/** The real service's implementations, in the order it registers them (v1, then v1alpha); made on first use. */
let implementations: Implementation[] | undefined;

function realImplementation(i: number): Implementation {
  if (implementations === undefined) {
    const made: Implementation[] = [];
    reflectionService().addToServer({ addService: (_definition, implementation) => void made.push(implementation) });
    implementations = made;
  }
  return implementations[i]!;
}

/**
 * Registers grpc.reflection.v1 and v1alpha. Building the descriptors (and
 * indexing them) took a tenth of the time from start to serving, and most
 * servers are never asked: the services are registered at once with their
 * real definitions (taken from a ReflectionService that describes nothing),
 * and each call is handed to the real ReflectionService, built on the first
 * call.
 */
export function addReflection(server: Pick<Server, "addService">): void {
  const registered: { definition: Definition; implementation: Implementation }[] = [];
  new ReflectionService({} as PackageDefinition).addToServer({
    addService: (definition, implementation) => void registered.push({ definition, implementation }),
  });
  registered.forEach(({ definition, implementation }, i) => {
    const lazy: Implementation = {};
    for (const method of Object.keys(implementation)) {
      lazy[method] = ((...args: unknown[]) => (realImplementation(i)[method] as (...a: unknown[]) => unknown)(...args)) as Implementation[string];
    }
    server.addService(definition, lazy);
  });
}

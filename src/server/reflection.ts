/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha) describing
 * iris.v1 and grpc.health.v1, so grpcurl and similar tools work without the
 * .proto files.
 *
 * iris.v1 is described by the descriptors buf compiled from proto/iris.proto
 * (src/gen/iris-descriptor-set.json, made by `npm run generate` through
 * scripts/protoc-gen-descriptor-set.mjs): exact
 * field names, imports, proto3 `optional` and the comments, under the file
 * names `iris.proto`, `google/protobuf/timestamp.proto` and
 * `google/protobuf/struct.proto`. (Descriptors rebuilt by proto-loader from
 * the .proto text lose the imports, which breaks grpcurl's `describe`.) The
 * health service comes from grpc-health-check's own proto.
 */
import { fromJson, toBinary, type JsonValue } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import type { Server } from "@grpc/grpc-js";
import { loadSync, type MessageTypeDefinition, type PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import descriptorSet from "../gen/iris-descriptor-set.json" with { type: "json" };
import { healthProtoPath } from "./health.js";

/** The compiled iris.v1 files (iris.proto and its imports), binary-encoded. */
export function irisFileDescriptors(): Buffer[] {
  const set = fromJson(FileDescriptorSetSchema, descriptorSet as unknown as JsonValue);
  return set.file.map((file) => Buffer.from(toBinary(FileDescriptorProtoSchema, file)));
}

let cached: ReflectionService | undefined;

/** The reflection service; the descriptors are built once per process. */
export function reflectionService(): ReflectionService {
  if (cached === undefined) {
    const health = loadSync(healthProtoPath, { keepCase: true });
    // ReflectionService reads nothing but the fileDescriptorProtos of each
    // entry of a package definition; this entry carries iris.v1's.
    const iris: Pick<MessageTypeDefinition<object, object>, "fileDescriptorProtos"> = {
      fileDescriptorProtos: irisFileDescriptors(),
    };
    const definition = { ...health, "iris.v1": iris } as unknown as PackageDefinition;
    cached = new ReflectionService(definition);
  }
  return cached;
}

export function addReflection(server: Pick<Server, "addService">): void {
  reflectionService().addToServer(server);
}

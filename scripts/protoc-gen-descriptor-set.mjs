#!/usr/bin/env node
// A protoc/buf plugin that writes the compiled descriptors of the files it is
// asked to generate, with their imports and comments, as one
// google.protobuf.FileDescriptorSet in protobuf JSON:
// `descriptor-set.json`, which server reflection serves (grpcurl's
// `list` and `describe`). buf.gen.yaml runs it beside ts-proto, so one
// `buf generate` makes everything in src/gen/.
import { Buffer } from "node:buffer";
import { create, fromBinary, toBinary, toJsonString } from "@bufbuild/protobuf";
import {
  CodeGeneratorRequestSchema,
  CodeGeneratorResponse_Feature,
  CodeGeneratorResponseSchema,
  FileDescriptorSetSchema,
} from "@bufbuild/protobuf/wkt";

const OUTPUT = "descriptor-set.json";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const request = fromBinary(CodeGeneratorRequestSchema, new Uint8Array(Buffer.concat(chunks)));

// proto_file holds every file to generate and everything they import, in
// dependency order; that is exactly a self-contained FileDescriptorSet.
const set = create(FileDescriptorSetSchema, { file: request.protoFile });
const response = create(CodeGeneratorResponseSchema, {
  supportedFeatures: BigInt(CodeGeneratorResponse_Feature.PROTO3_OPTIONAL),
  file: [{ name: OUTPUT, content: `${toJsonString(FileDescriptorSetSchema, set)}\n` }],
});
process.stdout.write(toBinary(CodeGeneratorResponseSchema, response));

/**
 * Requests whose bytes are not a valid protobuf encoding, on every service
 * of the gRPC port: each is answered INVALID_ARGUMENT naming the problem
 * (never grpc-js's INTERNAL "Error deserializing request"), logged at warn,
 * seen by the per-call stages, and the server goes on serving. And the
 * bound on BatchPredict's work: a batch over the row limit is refused by
 * counting its rows.
 */
import { Client, credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { Code } from "../src/errors.js";
import { BatchPredictRequest } from "../src/gen/iris.js";
import type { CallEnd } from "../src/server/calls.js";
import { SETOSA } from "./support/flowers.js";
import { call, healthCheck } from "./support/service-fixtures.js";
import { useServers } from "./support/use-servers.js";

const servers = useServers();

/**
 * Field 15 of wire type 7, which does not exist: malformed for every
 * request message, to every decoder on the port (ts-proto's, the wire
 * codec's, and protobufjs's in health and reflection, which accepts a
 * truncated string).
 */
const MALFORMED = Buffer.from([0x7f]);
const PROBLEM = "a field of wire type 7, which does not exist at byte 0";

const identity = (b: Buffer): Buffer => b;

function rawClient(address: string): Client {
  const client = new Client(address, credentials.createInsecure());
  servers.defer(() => client.close());
  return client;
}

/** Sends `bytes` as the request of `path` (unary, server-streaming or bidi) and resolves with the call's status. */
function send(client: Client, path: string, kind: "unary" | "server" | "bidi", bytes: Buffer): Promise<ServiceError | null> {
  return new Promise((resolve) => {
    if (kind === "unary") {
      client.makeUnaryRequest(path, identity, identity, bytes, new Metadata(), { deadline: Date.now() + 20_000 }, (err) => resolve(err));
      return;
    }
    const stream =
      kind === "server"
        ? client.makeServerStreamRequest(path, identity, identity, bytes)
        : client.makeBidiStreamRequest(path, identity, identity);
    stream.on("data", () => undefined);
    stream.on("error", (err: ServiceError) => resolve(err));
    stream.on("end", () => resolve(null));
    if (kind === "bidi") {
      const duplex = stream as ReturnType<Client["makeBidiStreamRequest"]>;
      duplex.write(bytes);
      duplex.end();
    }
  });
}

const METHODS = [
  ["/iris.v1.IrisService/Predict", "unary"],
  ["/iris.v1.IrisService/BatchPredict", "unary"],
  ["/iris.v1.IrisService/ModelInfo", "unary"],
  ["/inference.GRPCInferenceService/ServerLive", "unary"],
  ["/inference.GRPCInferenceService/ServerReady", "unary"],
  ["/inference.GRPCInferenceService/ModelReady", "unary"],
  ["/inference.GRPCInferenceService/ServerMetadata", "unary"],
  ["/inference.GRPCInferenceService/ModelMetadata", "unary"],
  ["/inference.GRPCInferenceService/ModelInfer", "unary"],
  ["/grpc.health.v1.Health/Check", "unary"],
  ["/grpc.health.v1.Health/Watch", "server"],
  ["/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "bidi"],
  ["/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", "bidi"],
] as const;

describe("a request that is not valid protobuf", () => {
  it.each(METHODS)("%s: INVALID_ARGUMENT naming the problem, a warning in the log, and the server serves on", async (path, kind) => {
    const ends: CallEnd[] = [];
    const t = await servers.start({ stages: [{ end: (_call, end) => void ends.push(end) }] });
    const err = await send(rawClient(t.address), path, kind, MALFORMED);
    expect([err?.code, err?.details]).toEqual([Code.INVALID_ARGUMENT, `malformed request message for ${path}: ${PROBLEM}`]);
    expect(t.logs).toMatchObject([{ level: "warn", method: path, bytes: 1, problem: PROBLEM, msg: "malformed request message" }]);
    expect(ends.map((e) => e.status)).toEqual([Code.INVALID_ARGUMENT]);
    expect(await healthCheck(servers.health(t.address), "")).toBe("SERVING");
    const c = servers.client(t.address);
    expect((await call(c, c.predict, { flower: SETOSA })).ok).toBe(true);
  });

  it.each([
    ["a flower's double cut off", [0x0a, 0x05, 0x09, 0x00, 0x00, 0x00, 0x00], "flowers[0]: a 64-bit value cut off by the end of the message at byte 3"],
    ["a wire type that does not exist", [...BatchPredictRequest.encode({ flowers: [SETOSA], omitProbabilities: false }).finish(), 0x17], "a field of wire type 7, which does not exist at byte 38"],
    ["a flower holding field number 0", [0x0a, 0x02, 0x00, 0x00], "flowers[0]: a field number 0 at byte 2"],
    ["a second flower cut off", [0x0a, 0x00, 0x0a, 0x02, 0x11], "a length-delimited field of 2 bytes with only 1 left at byte 3"],
  ])("BatchPredict with %s is answered INVALID_ARGUMENT saying where", async (_label, bytes, problem) => {
    const t = await servers.start();
    const err = await send(rawClient(t.address), "/iris.v1.IrisService/BatchPredict", "unary", Buffer.from(bytes));
    expect([err?.code, err?.details]).toEqual([Code.INVALID_ARGUMENT, `malformed request message for /iris.v1.IrisService/BatchPredict: ${problem}`]);
  });

  it("a problem inside a flower is named with where it is; one the generated decoder finds, in its words", async () => {
    const t = await servers.start();
    const client = rawClient(t.address);
    // PredictRequest.flower, and ModelInferRequest.inputs[0], holding a field of wire type 7.
    const predict = await send(client, "/iris.v1.IrisService/Predict", "unary", Buffer.from([0x0a, 0x01, 0x0f]));
    expect([predict?.code, predict?.details]).toEqual([
      Code.INVALID_ARGUMENT,
      "malformed request message for /iris.v1.IrisService/Predict: a field of wire type 7, which does not exist at byte 2",
    ]);
    const infer = await send(client, "/inference.GRPCInferenceService/ModelInfer", "unary", Buffer.from([0x2a, 0x01, 0x0f]));
    expect([infer?.code, infer?.details]).toEqual([
      Code.INVALID_ARGUMENT,
      "malformed request message for /inference.GRPCInferenceService/ModelInfer: a nested message is malformed (cant skip wire type 7)",
    ]);
  });
});

describe("BatchPredict's bound on work", () => {
  it("refuses 3 000 000 empty flowers (a 6 MB request) over the row limit, stating the limit", async () => {
    const t = await servers.start({ maxBatchRows: 100_000, maxReceiveBytes: 8 * 1024 * 1024 });
    const bytes = Buffer.alloc(6_000_000);
    for (let i = 0; i < bytes.length; i += 2) bytes[i] = 0x0a;
    const err = await send(rawClient(t.address), "/iris.v1.IrisService/BatchPredict", "unary", bytes);
    expect([err?.code, err?.details]).toEqual([
      Code.RESOURCE_EXHAUSTED,
      "batch of 3000000 flowers exceeds the limit of 100000 rows per call; split it into smaller batches",
    ]);
  });
});

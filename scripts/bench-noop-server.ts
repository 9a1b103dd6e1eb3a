/**
 * The benchmark's ceiling: a bare grpc-js server for iris.v1.IrisService
 * that does none of the service's own work. Predict and ModelInfo decode
 * the request with the same generated definition (and the same server
 * options) as the real server and answer an empty message. BatchPredict
 * neither decodes nor encodes anything: it answers a pre-encoded reply, the
 * one the real server gives to a request of that size, handed over with
 * `--batch-reply <request bytes>=<file>` (repeatable); that is the
 * transport's ceiling for a reply of that size.
 *
 *   node --import tsx scripts/bench-noop-server.ts [--batch-reply 360036=reply.bin ...]
 *
 * Listens on 127.0.0.1:0 and prints `{"msg":"serving","port":N}` on stdout;
 * stops on SIGTERM/SIGINT.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { DEFAULT_MAX_RECEIVE_BYTES } from "../src/config.js";
import { IrisServiceService, ModelInfoResponse, PredictResponse } from "../src/gen/iris.js";

const { values } = parseArgs({ options: { "batch-reply": { type: "string", multiple: true, default: [] } } });
/** Pre-encoded BatchPredict replies by the size of the request they answer. */
const replies = new Map(
  values["batch-reply"].map((spec) => {
    const [size, file] = spec.split("=");
    return [Number(size), readFileSync(file!)] as const;
  }),
);
const EMPTY = Buffer.alloc(0);

const emptyPredict = PredictResponse.fromPartial({});
const emptyInfo = ModelInfoResponse.fromPartial({});
const raw = (b: Buffer): Buffer => b;

const definition = {
  ...IrisServiceService,
  batchPredict: { ...IrisServiceService.batchPredict, requestDeserialize: raw, responseSerialize: raw },
};
const noop: UntypedServiceImplementation = {
  predict: (_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<PredictResponse>) => callback(null, emptyPredict),
  batchPredict: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) =>
    callback(null, replies.get(call.request.length) ?? EMPTY),
  modelInfo: (_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<ModelInfoResponse>) => callback(null, emptyInfo),
};

const server = new Server({ "grpc.max_receive_message_length": DEFAULT_MAX_RECEIVE_BYTES });
server.addService(definition, noop);
server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.stderr.write(`bench-noop-server: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ msg: "serving", port })}\n`);
});
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => server.forceShutdown());

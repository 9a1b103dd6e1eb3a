/**
 * The benchmark's ceiling: a bare grpc-js server for iris.v1.IrisService
 * whose handlers do nothing but answer an empty message. It uses the same
 * generated service definition (so requests are decoded the same way) and
 * the same server options as the real server; what it lacks is exactly the
 * service's own work: validation, prediction and building the answer.
 *
 *   node --import tsx scripts/bench-noop-server.ts
 *
 * Listens on 127.0.0.1:0 and prints `{"msg":"serving","port":N}` on stdout;
 * stops on SIGTERM/SIGINT.
 */
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { DEFAULT_MAX_RECEIVE_BYTES } from "../src/config.js";
import {
  BatchPredictResponse,
  IrisServiceService,
  ModelInfoResponse,
  PredictResponse,
  type IrisServiceServer,
} from "../src/gen/iris.js";

const emptyPredict = PredictResponse.fromPartial({});
const emptyBatch = BatchPredictResponse.fromPartial({});
const emptyInfo = ModelInfoResponse.fromPartial({});

const noop: IrisServiceServer = {
  predict: (_call, callback) => callback(null, emptyPredict),
  batchPredict: (_call, callback) => callback(null, emptyBatch),
  modelInfo: (_call, callback) => callback(null, emptyInfo),
};

const server = new Server({ "grpc.max_receive_message_length": DEFAULT_MAX_RECEIVE_BYTES });
server.addService(IrisServiceService, noop);
server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.stderr.write(`bench-noop-server: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ msg: "serving", port })}\n`);
});
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => server.forceShutdown());

/**
 * The request that killed the server as deployed: a 6 MB BatchPredict of
 * 3 000 000 empty rows (`0a 00` repeated), under the Deployment's
 * --max-old-space-size=192. `iris serve` runs as a real process with that
 * heap; the call must be refused with RESOURCE_EXHAUSTED naming the row
 * limit, the process must stay up, and another client's Predict must be
 * answered beside it.
 */
import { connect as http2Connect } from "node:http2";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { Code } from "../src/errors.js";
import { PredictRequest } from "../src/gen/iris.js";
import { SETOSA } from "./support/flowers.js";
import { useIrisProcesses } from "./support/iris-process.js";
import { grpcFrame, rawCall } from "./support/raw-grpc.js";
import { modelFile } from "./support/service-fixtures.js";

const { iris, defer } = useIrisProcesses();
const ROWS = 3_000_000;

describe("a BatchPredict of 3 000 000 empty rows", () => {
  it("is refused with RESOURCE_EXHAUSTED under a 192 MB heap, while the server stays up and answers others", async () => {
    const m = await modelFile();
    defer(m.cleanup);
    const server = iris(["serve", "--host", "127.0.0.1", "--port", "0", "--http-port", "off", "--model", m.path], {
      NODE_OPTIONS: "--max-old-space-size=192",
    });
    const { port } = await server.line((l) => l.msg === "serving");
    const session = http2Connect(`http://127.0.0.1:${port as number}`);
    defer(async () => void session.destroy());
    session.on("error", () => undefined);
    await once(session, "connect");

    // Field 1 (flowers), length 0: an empty Flower, three million times.
    const body = Buffer.alloc(2 * ROWS);
    for (let i = 0; i < body.length; i += 2) body[i] = 0x0a;
    const attack = rawCall(session, "/iris.v1.IrisService/BatchPredict", grpcFrame(body));
    const other = rawCall(session, "/iris.v1.IrisService/Predict", grpcFrame(PredictRequest.encode({ flower: SETOSA }).finish()));
    const [refused, answered] = await Promise.all([attack.answer, other.answer]);
    expect(refused.status).toBe(Code.RESOURCE_EXHAUSTED);
    expect(refused.message).toMatch(/100 ?000/);
    expect(answered.status).toBe(Code.OK);

    // Still up: a second round is answered the same way.
    expect((await rawCall(session, "/iris.v1.IrisService/BatchPredict", grpcFrame(body)).answer).status).toBe(Code.RESOURCE_EXHAUSTED);
    server.child.kill("SIGTERM");
    expect((await server.exit).code).toBe(0);
  });
});

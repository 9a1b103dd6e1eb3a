/**
 * `iris serve` and `iris info --remote` as real processes: the start log
 * line, configuration from the environment, startup failures, a SIGTERM
 * that arrives while a call is in flight or before the server is up.
 * (TLS: test/tls.test.ts.)
 */
import { execFile } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect as http2Connect } from "node:http2";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { BatchPredictRequest, BatchPredictResponse, ModelInfoResponse } from "../src/gen/iris.js";
import { modelInfo } from "../src/server/served-model.js";
import { useIrisProcesses } from "./support/iris-process.js";
import { irisRows, modelFile, referenceModel, selfSignedCertificate } from "./support/service-fixtures.js";

const { iris, defer } = useIrisProcesses();

async function tempModel(): Promise<string> {
  const m = await modelFile();
  defer(m.cleanup);
  return m.path;
}

describe("iris serve", () => {
  it("reads its settings from IRIS_* variables, logs the bound port, and serves ModelInfo to `iris info --remote`", async () => {
    const path = await tempModel();
    const server = iris(["serve"], { IRIS_HOST: "127.0.0.1", IRIS_PORT: "0", IRIS_MODEL: path, IRIS_LOG_LEVEL: "info" });
    const serving = await server.line((l) => l.msg === "serving");
    const port = serving.port as number;
    const model = await referenceModel();
    expect(port).toBeGreaterThan(0);
    expect(serving).toMatchObject({
      level: "info",
      address: `127.0.0.1:${port}`,
      model: { name: "iris-logreg", version: model.version, path },
      maxBatchRows: 100_000,
    });

    const info = iris(["info", "--remote", `127.0.0.1:${port}`]);
    let stdout = "";
    info.child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    const done = await info.exit;
    expect(done.code, done.stderr).toBe(0);
    const printed = JSON.parse(stdout) as { loadedAt: string };
    expect(printed).toEqual(ModelInfoResponse.toJSON(modelInfo(model, new Date(printed.loadedAt))));

    server.child.kill("SIGINT");
    const exit = await server.exit;
    expect(exit.code).toBe(0);
    expect(exit.lines.at(-1)).toMatchObject({ msg: "stopped", forced: false });
  });

  it("finishes a call that is in flight when SIGTERM arrives, then exits 0", async () => {
    const path = await tempModel();
    const server = iris(["serve", "--host", "127.0.0.1", "--port", "0", "--model", path]);
    const { port } = await server.line((l) => l.msg === "serving");

    // A BatchPredict over raw HTTP/2, sent in two parts so that the call is
    // open at the server when the signal arrives.
    const { x } = await irisRows();
    const flowers = x.map(([sepalLength, sepalWidth, petalLength, petalWidth]) => ({
      sepalLength,
      sepalWidth,
      petalLength,
      petalWidth,
    }));
    const message = BatchPredictRequest.encode({ flowers, omitProbabilities: false }).finish();
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    frame.set(message, 5);

    const session = http2Connect(`http://127.0.0.1:${port}`);
    defer(async () => void session.destroy());
    await once(session, "connect");
    const stream = session.request({
      ":method": "POST",
      ":path": "/iris.v1.IrisService/BatchPredict",
      "content-type": "application/grpc",
      te: "trailers",
    });
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    const trailers = once(stream, "trailers").then(([t]) => t as Record<string, string>);
    const ended = once(stream, "end");
    stream.write(frame.subarray(0, 100));
    // The ping is answered after the server has read the frames before it.
    await new Promise<void>((resolve, reject) => session.ping((err) => (err ? reject(err) : resolve())));

    server.child.kill("SIGTERM");
    await server.line((l) => typeof l.msg === "string" && l.msg.startsWith("shutting down"));
    stream.end(frame.subarray(100));

    expect((await trailers)["grpc-status"]).toBe("0");
    await ended;
    const body = Buffer.concat(chunks);
    const response = BatchPredictResponse.decode(body.subarray(5, 5 + body.readUInt32BE(1)));
    const model = await referenceModel();
    expect(response.modelVersion).toBe(model.version);
    expect(response.classIndices).toEqual(x.map((row) => model.predict(row).classIndex));
    session.close();

    const exit = await server.exit;
    expect(exit.code).toBe(0);
    expect(exit.lines.at(-1)).toMatchObject({ msg: "stopped", forced: false });
  });

  it("exits 1 with a clear message, before listening, when the model file is missing or invalid", async () => {
    const missing = await iris(["serve", "--port", "0", "--model", "no/such/model.json"]).exit;
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("iris serve: no/such/model.json: model file not found\n");
    expect(missing.lines).toEqual([]);

    const m = await modelFile();
    defer(m.cleanup);
    const { writeFile } = await import("node:fs/promises");
    await writeFile(m.path, '{"format": "iris-serve.model.v1"}');
    const invalid = await iris(["serve", "--port", "0", "--model", m.path]).exit;
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^iris serve: .*model\.json: invalid model artifact: algorithm: /);
    expect(invalid.lines).toEqual([]);
  });

  it("exits 1 when the port is taken", async () => {
    const path = await tempModel();
    const blocker = createServer();
    blocker.listen(0, "127.0.0.1");
    await once(blocker, "listening");
    defer(() => new Promise((resolve) => blocker.close(() => resolve())));
    const { port } = blocker.address() as { port: number };
    const result = await iris(["serve", "--host", "127.0.0.1", "--port", String(port), "--model", path]).exit;
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`iris serve: cannot listen on 127.0.0.1:${port}: the address is already in use\n`);
    expect(result.lines.some((l) => l.msg === "serving")).toBe(false);
  });

  it("`iris info --model` describes a model file the same way", async () => {
    const path = await tempModel();
    const info = iris(["info", "--model", path]);
    let stdout = "";
    info.child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    const done = await info.exit;
    expect(done.code, done.stderr).toBe(0);
    const printed = JSON.parse(stdout) as { loadedAt: string };
    expect(printed).toEqual(ModelInfoResponse.toJSON(modelInfo(await referenceModel(), new Date(printed.loadedAt))));
    const both = await iris(["info", "--model", path, "--remote", "127.0.0.1:1"]).exit;
    expect(both.code).toBe(2);
    expect(both.stderr).toBe("iris info: give --remote or --model, not both\n");
  });

  it("exits 2 on a bad setting, naming it", async () => {
    const flag = await iris(["serve", "--port", "http"]).exit;
    expect(flag.code).toBe(2);
    expect(flag.stderr).toBe('iris serve: --port must be a whole number from 0 to 65535, got "http"\n');
    const env = await iris(["serve"], { IRIS_MAX_BATCH_ROWS: "lots" }).exit;
    expect(env.code).toBe(2);
    expect(env.stderr).toBe('iris serve: IRIS_MAX_BATCH_ROWS must be a whole number from 1 to 10000000, got "lots"\n');
  });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "iris-serve-cli-"));
  defer(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe("iris serve start-up", () => {
  it("stops without serving, exit 0, when SIGTERM arrives while start-up is still reading its files", async () => {
    const dir = await tempDir();
    const path = await tempModel();
    // A key handed over through a pipe (as `--tls-key <(vault read ...)` does):
    // start-up waits on it until the test writes the key.
    const { certPath, key } = await selfSignedCertificate(dir);
    const keyPipe = join(dir, "key-pipe.pem");
    await promisify(execFile)("mkfifo", [keyPipe]);
    const server = iris(["serve", "--host", "127.0.0.1", "--port", "0", "--model", path, "--log-level", "debug"], {
      IRIS_TLS_CERT: certPath,
      IRIS_TLS_KEY: keyPipe,
    });
    await server.line((l) => l.msg === "starting");
    server.child.kill("SIGTERM");
    await server.line((l) => l.msg === "signal during start-up: stopping once started, without serving");
    await writeFile(keyPipe, key);
    const exit = await server.exit;
    expect(exit.code, exit.stderr).toBe(0);
    expect(exit.lines.at(-1)).toMatchObject({ msg: "stopped before serving", signal: "SIGTERM" });
    expect(exit.lines.some((l) => l.msg === "serving")).toBe(false);
  });

  it("refuses a model that is not a regular file, or too large, at once and without reading it", async () => {
    const dir = await tempDir();
    const fifo = join(dir, "model.json");
    await promisify(execFile)("mkfifo", [fifo]);
    const fromFifo = await iris(["serve", "--port", "0", "--model", fifo]).exit;
    expect([fromFifo.code, fromFifo.stderr]).toEqual([1, `iris serve: ${fifo}: not a regular file (a FIFO); a model is a JSON file\n`]);
    const fromDevice = await iris(["serve", "--port", "0", "--model", "/dev/zero"]).exit;
    expect([fromDevice.code, fromDevice.stderr]).toEqual([
      1,
      "iris serve: /dev/zero: not a regular file (a character device); a model is a JSON file\n",
    ]);
    const big = join(dir, "big.json");
    await writeFile(big, Buffer.alloc(5 * 1024 * 1024, 0x20));
    const fromBig = await iris(["serve", "--port", "0", "--model", big]).exit;
    expect([fromBig.code, fromBig.stderr]).toEqual([
      1,
      `iris serve: ${big}: 5242880 bytes, over the 4194304-byte limit of a model file; this is not a model artifact\n`,
    ]);
  });

  it("logs the maximum connection age it applies", async () => {
    const path = await tempModel();
    const server = iris(["serve", "--host", "127.0.0.1", "--port", "0", "--model", path], { IRIS_MAX_CONNECTION_AGE_MS: "300000" });
    expect(await server.line((l) => l.msg === "serving")).toMatchObject({ maxConnectionAgeMs: 300_000, tls: false });
    server.child.kill("SIGTERM");
    expect((await server.exit).code).toBe(0);
  });
});

/**
 * `iris serve` as a real process, stopped while a client misbehaves: a
 * client that stopped reading its answers cannot keep the process alive
 * past the grace period (every socket is destroyed, exit 0, "stopped" with
 * forced: true) — before, it was SIGKILLed by Kubernetes, exit 137; SIGUSR1 and SIGUSR2 are logged and ignored (no inspector,
 * no death), and the server keeps serving.
 */
import { describe, expect, it } from "vitest";
import { BatchPredictRequest } from "../src/gen/iris.js";
import { SETOSA } from "./support/flowers.js";
import { useIrisProcesses } from "./support/iris-process.js";
import { grpcFrame, pausableSession, rawCall, roundTrip } from "./support/raw-grpc.js";
import { modelFile } from "./support/service-fixtures.js";

const { iris, defer } = useIrisProcesses();

async function tempModel(): Promise<string> {
  const m = await modelFile();
  defer(m.cleanup);
  return m.path;
}

describe("iris serve at a signal", () => {
  it("exits 0 after the grace period even while a client has stopped reading, its socket destroyed", async () => {
    const path = await tempModel();
    const server = iris([
      "serve", "--host", "127.0.0.1", "--port", "0", "--http-port", "off", "--model", path,
      // No keepalive: only the shutdown can get rid of the stuck client.
      "--shutdown-grace-ms", "500", "--keepalive-time-ms", "0", "--idle-timeout-ms", "0",
    ]);
    const { port } = await server.line((l) => l.msg === "serving");
    const stuck = await pausableSession(port as number);
    defer(async () => void stuck.tcp.destroy());
    const frame = grpcFrame(BatchPredictRequest.encode({ flowers: Array.from({ length: 100_000 }, () => SETOSA), omitProbabilities: false }).finish(), true);
    // Calls whose 2.5 MB answers will not be read: more than the kernel's socket buffers hold.
    for (let i = 0; i < 6; i++) rawCall(stuck.session, "/iris.v1.IrisService/BatchPredict", frame, { headers: { "grpc-encoding": "gzip" } });
    // The server has read the calls once it answers a ping sent after them; then the client stops reading.
    await roundTrip(stuck.session);
    stuck.stopReading();
    server.child.kill("SIGTERM");
    const exit = await server.exit;
    expect(exit.code, exit.stderr).toBe(0);
    expect(exit.lines.at(-1)).toMatchObject({ msg: "stopped", forced: true });
  });

  it("logs and ignores SIGUSR1 (no inspector opens) and SIGUSR2, and keeps serving", async () => {
    const path = await tempModel();
    const server = iris(["serve", "--host", "127.0.0.1", "--port", "0", "--http-port", "off", "--model", path]);
    const { port } = await server.line((l) => l.msg === "serving");
    for (const signal of ["SIGUSR1", "SIGUSR2"] as const) {
      server.child.kill(signal);
      const line = await server.line((l) => l.signal === signal);
      expect(line).toMatchObject({ level: "warn", msg: "signal ignored: it neither stops the server nor opens the inspector" });
    }
    const health = await iris(["health", "--address", `127.0.0.1:${port as number}`]).exit;
    expect(health.code, health.stderr).toBe(0);
    server.child.kill("SIGTERM");
    const exit = await server.exit;
    expect(exit.code).toBe(0);
    expect(exit.stderr).not.toMatch(/Debugger listening/);
  });
});

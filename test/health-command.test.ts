/**
 * `iris health`: a real grpc.health.v1 Check against a real grpc-js server on
 * port 0 (grpc-health-check's implementation), in-process through the command
 * and once as a subprocess, as the container HEALTHCHECK runs it.
 */
import { execFile } from "node:child_process";
import { createServer, type Server as NetServer, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Writable } from "node:stream";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { health } from "../src/cli/commands/health.js";
import { ExitCode } from "../src/cli/command.js";
import { IrisError } from "../src/errors.js";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const run = promisify(execFile);

function capture(): { io: { stdout: Writable; stderr: Writable }; out: () => string; err: () => string } {
  let out = "";
  let err = "";
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, done) {
        append(String(chunk));
        done();
      },
    });
  return {
    io: { stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)) },
    out: () => out,
    err: () => err,
  };
}

async function check(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = capture();
  const code = await health.run(argv, c.io);
  return { code, out: c.out(), err: c.err() };
}

let server: Server;
let address: string;
let port: number;
const healthImpl = new HealthImplementation({ "": "SERVING", "iris.v1.IrisService": "SERVING", draining: "NOT_SERVING" });

beforeAll(async () => {
  server = new Server();
  healthImpl.addToServer(server);
  port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  address = `127.0.0.1:${port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
});

describe("iris health", () => {
  it("exits 0 and says SERVING when the server is serving", async () => {
    const result = await check(["--address", address]);
    expect(result).toEqual({ code: ExitCode.OK, out: `SERVING (server at ${address})\n`, err: "" });
  });

  it("asks about the named service", async () => {
    expect((await check(["--address", address, "--service", "iris.v1.IrisService"])).code).toBe(ExitCode.OK);
    const draining = await check(["--address", address, "--service", "draining"]);
    expect(draining.code).toBe(ExitCode.FAILURE);
    expect(draining.err).toBe(`iris health: ${address}: service "draining" is NOT_SERVING\n`);
  });

  it("follows a status change (SERVING → NOT_SERVING → SERVING)", async () => {
    healthImpl.setStatus("", "NOT_SERVING");
    try {
      const down = await check(["--address", address]);
      expect(down.code).toBe(ExitCode.FAILURE);
      expect(down.err).toContain("server is NOT_SERVING");
    } finally {
      healthImpl.setStatus("", "SERVING");
    }
    expect((await check(["--address", address])).code).toBe(ExitCode.OK);
  });

  it("fails with one line for a service the server does not know", async () => {
    const result = await check(["--address", address, "--service", "no.such.Service"]);
    expect(result.code).toBe(ExitCode.FAILURE);
    expect(result.err).toBe(`iris health: ${address}: the server does not know service "no.such.Service"\n`);
  });

  it("fails with one line when nothing listens", async () => {
    // A port that was just free: bind, note it, close.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const closedPort = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const result = await check(["--address", `127.0.0.1:${closedPort}`]);
    expect(result.code).toBe(ExitCode.FAILURE);
    expect(result.err).toMatch(new RegExp(`^iris health: 127\\.0\\.0\\.1:${closedPort}: unreachable \\(.+\\)\\n$`));
  });

  it("gives up at the deadline when the peer never answers", async () => {
    // Accepts TCP connections and never speaks HTTP/2.
    const sockets: Socket[] = [];
    const silent: NetServer = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const silentAddress = `127.0.0.1:${(silent.address() as { port: number }).port}`;
    try {
      const result = await check(["--address", silentAddress, "--timeout-ms", "300"]);
      expect(result.code).toBe(ExitCode.FAILURE);
      expect(result.err).toMatch(/^iris health: 127\.0\.0\.1:\d+: (no answer within 300 ms|unreachable \(.+\))\n$/);
    } finally {
      sockets.forEach((s) => s.destroy());
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it("asks port 50051 of a host given without one, IPv6 included: the same answer as HOST:50051", async () => {
    // Whatever runs on this machine's port 50051 (a server or nothing), both spellings reach the same port.
    for (const [bare, full] of [
      ["127.0.0.1", "127.0.0.1:50051"],
      ["[::1]", "[::1]:50051"],
      ["::1", "[::1]:50051"],
    ] as const) {
      const [short, long] = await Promise.all([check(["--address", bare, "--timeout-ms", "2000"]), check(["--address", full, "--timeout-ms", "2000"])]);
      expect(short, bare).toEqual(long);
      expect(`${short.out}${short.err}`, bare).toContain(`${full}`);
    }
  });

  it("rejects bad flags as usage errors", async () => {
    for (const [argv, message] of [
      [["--address", "host:70000"], '--address must be HOST or HOST:PORT with a port from 1 to 65535 ([::1] for IPv6), got "host:70000"'],
      [["--address", "host:"], '--address must be HOST or HOST:PORT with a port from 1 to 65535 ([::1] for IPv6), got "host:"'],
      [["--address", "[]:50051"], "--address must be HOST or HOST:PORT"],
      [["--address", " "], "--address must be HOST or HOST:PORT, got an empty string"],
      [["--timeout-ms", "0"], "--timeout-ms must be between 1 and 600000, got 0"],
      [["--timeout-ms", "soon"], '--timeout-ms must be a number, got "soon"'],
      [["--bogus"], "Unknown option '--bogus'"],
    ] as const) {
      const error = await health.run([...argv], capture().io).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, argv.join(" ")).toBeInstanceOf(IrisError);
      expect((error as IrisError).message).toContain(message);
    }
  });

  it("runs as the CLI: default address from IRIS_PORT, exit codes 0/1/2", async () => {
    const cli = (args: string[], env: Record<string, string> = {}) =>
      run(process.execPath, ["--import", "tsx", "src/cli/main.ts", "health", ...args], {
        cwd: REPO,
        env: { ...process.env, ...env },
      }).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
      );
    const ok = await cli([], { IRIS_PORT: String(port), IRIS_HOST: "0.0.0.0" });
    expect(ok).toMatchObject({ code: 0, stdout: `SERVING (server at 127.0.0.1:${port})\n` });
    const down = await cli(["--address", address, "--service", "draining"]);
    expect(down.code).toBe(1);
    expect(down.stderr.trim().split("\n")).toHaveLength(1);
    const usage = await cli(["--address", "nope:0"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("iris health: --address must be HOST or HOST:PORT");
  });
});

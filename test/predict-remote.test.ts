/**
 * `iris predict --remote` prints exactly what the local `iris predict` prints
 * for the same model and input; `--remote` (and `iris info --remote`) dial
 * port 50051 of a host given without a port.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { loadModelFile } from "../src/model/index.js";
import { modelFile, startTestServer, type TestServer } from "./support/service-fixtures.js";

const repo = fileURLToPath(new URL("../", import.meta.url));

function iris(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { cwd: repo }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

let cleanup: (() => Promise<void>)[] = [];
let server: TestServer | undefined;
afterEach(async () => {
  await server?.server.shutdown(5_000);
  server = undefined;
  await Promise.all(cleanup.map((c) => c()));
  cleanup = [];
});

describe("iris predict --remote", () => {
  it.each([
    ["one row", "[5.1,3.5,1.4,0.2]"],
    ["several rows", "[[5.1,3.5,1.4,0.2],[6.2,2.9,4.3,1.3],[7.7,3.0,6.1,2.3],[0,0,0,0]]"],
  ])("prints the same line as a local prediction for %s", async (_label, input) => {
    const file = await modelFile();
    cleanup.push(file.cleanup);
    server = await startTestServer({ model: await loadModelFile(file.path) });
    const [local, remote] = await Promise.all([
      iris("predict", "--model", file.path, "--input", input),
      iris("predict", "--remote", server.address, "--input", input),
    ]);
    expect(local.code, local.stderr).toBe(0);
    expect(remote.code, remote.stderr).toBe(0);
    expect(remote.stdout).toBe(local.stdout);
    expect(remote.stdout).toMatch(/^\{"prediction":\[0[,\]]/);
  });

  it("fails with exit 1 naming the address when the server is unreachable", async () => {
    const t = await startTestServer();
    const address = t.address;
    await t.server.shutdown(1_000);
    const r = await iris("predict", "--remote", address, "--input", "[5.1,3.5,1.4,0.2]");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^iris predict: ${address}: UNAVAILABLE: `));
    expect(r.stdout).toBe("");
  });

  it("dials port 50051 of a host given without a port (IPv6 too), as `iris info --remote` does", async () => {
    // Whatever runs on this machine's port 50051 (a server or nothing), both spellings reach the same port.
    const input = "[5.1,3.5,1.4,0.2]";
    const runs = await Promise.all([
      iris("predict", "--remote", "127.0.0.1", "--input", input, "--timeout-ms", "3000"),
      iris("predict", "--remote", "127.0.0.1:50051", "--input", input, "--timeout-ms", "3000"),
      iris("info", "--remote", "[::1]", "--timeout-ms", "3000"),
      iris("info", "--remote", "[::1]:50051", "--timeout-ms", "3000"),
    ]);
    const [bare, full, bare6, full6] = runs.map((r) => ({ ...r, stdout: r.stdout.replace(/"loadedAt": "[^"]*"/, "") }));
    expect(bare).toEqual(full);
    expect(bare6).toEqual(full6);
    // A failure names the address dialled.
    expect(bare.code === 0 || bare.stderr.startsWith("iris predict: 127.0.0.1:50051: "), bare.stderr).toBe(true);
    expect(bare6.code === 0 || bare6.stderr.startsWith("iris info: [::1]:50051: "), bare6.stderr).toBe(true);
  });

  it("checks the input and the flags before calling (exit 2)", async () => {
    const bad = await iris("predict", "--remote", "127.0.0.1:1", "--input", "[5.1,3.5,-1.4,0.2]");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("iris predict: --input: petal_length must be >= 0 cm, got -1.4\n");
    const both = await iris("predict", "--remote", "127.0.0.1:1", "--model", "m.json", "--input", "[1,1,1,1]");
    expect(both.code).toBe(2);
    expect(both.stderr).toBe("iris predict: give --remote or --model, not both\n");
    const port = await iris("predict", "--remote", "127.0.0.1:99999", "--input", "[1,1,1,1]");
    expect(port.code).toBe(2);
    expect(port.stderr).toBe(
      'iris predict: --remote must be HOST or HOST:PORT with a port from 1 to 65535 ([::1] for IPv6), got "127.0.0.1:99999"\n',
    );
  });
});

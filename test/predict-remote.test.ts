/**
 * `iris predict --remote` prints exactly what the local `iris predict` prints
 * for the same model and input.
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

  it("checks the input and the flags before calling (exit 2)", async () => {
    const bad = await iris("predict", "--remote", "127.0.0.1:1", "--input", "[5.1,3.5,-1.4,0.2]");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("iris predict: --input: petal_length must be >= 0 cm, got -1.4\n");
    const both = await iris("predict", "--remote", "127.0.0.1:1", "--model", "m.json", "--input", "[1,1,1,1]");
    expect(both.code).toBe(2);
    expect(both.stderr).toBe("iris predict: give --remote or --model, not both\n");
  });
});

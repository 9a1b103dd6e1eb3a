/**
 * Reloading a real `iris serve` process: SIGHUP reloads (a new file, a bad
 * one refused, the same one unchanged) and never ends the process; the
 * Kubernetes ConfigMap symlink swap is picked up by the poll, with
 * `--model` naming the mounted directory.
 */
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { modelVersion, type ModelArtifact } from "../src/model/index.js";
import { useIrisProcesses } from "./support/iris-process.js";
import { scrape } from "./support/metrics.js";
import { call, generatedClient, healthCheck, healthClient, referenceArtifact } from "./support/service-fixtures.js";

const { iris, defer } = useIrisProcesses();

async function variant(i: number): Promise<ModelArtifact> {
  const a = await referenceArtifact();
  const coefficients = a.coefficients.map((r) => r.map((w) => w * (1 + i / 10)));
  const version = modelVersion({ features: a.features.map((f) => f.name), classes: a.classes, coefficients, intercepts: a.intercepts });
  return { ...a, coefficients, version };
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "iris-serve-reload-"));
  defer(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function renameOver(path: string, text: string): Promise<void> {
  const tmp = `${path}.${randomUUID()}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/** The served version, by ModelInfo over gRPC. */
async function servedVersion(address: string): Promise<string> {
  const client = generatedClient(address);
  try {
    const r = await call(client, client.modelInfo, {});
    if (!r.ok) throw r.err;
    return r.res.version;
  } finally {
    client.close();
  }
}

describe("iris serve reloads its model", () => {
  it("on SIGHUP: a new file is swapped in, a bad one refused, the same one left; the process keeps serving", async () => {
    const dir = await tempDir();
    const path = join(dir, "model.json");
    const [v0, v1] = [await variant(0), await variant(1)];
    await writeFile(path, JSON.stringify(v0));
    const server = iris(["serve", "--host", "127.0.0.1", "--port", "0", "--model", path, "--model-poll-interval", "off"]);
    const serving = await server.line((l) => l.msg === "serving");
    expect(serving).toMatchObject({ modelPollIntervalMs: 0, metrics: true, accessLog: false });
    const address = `127.0.0.1:${serving.port as number}`;
    const http = `http://127.0.0.1:${serving.httpPort as number}`;

    // Without polling, a new file waits for the signal.
    await renameOver(path, JSON.stringify(v1));
    expect(await servedVersion(address)).toBe(v0.version);
    server.child.kill("SIGHUP");
    const reloaded = await server.line((l) => l.msg === "model reloaded");
    expect(reloaded).toMatchObject({ level: "info", trigger: "SIGHUP", path, from: v0.version, to: v1.version });
    expect(typeof reloaded.buildMs).toBe("number");
    expect(server.lines.find((l) => l.msg === "reloading the model")).toMatchObject({ signal: "SIGHUP" });
    expect(await servedVersion(address)).toBe(v1.version);

    // A bad file: refused at once, with the reason; the old model and health stay.
    await renameOver(path, JSON.stringify({ ...v1, intercepts: [1, 2, 3] }));
    server.child.kill("SIGHUP");
    const refused = await server.line((l) => l.msg === `model reload refused: still serving version ${v1.version}`);
    expect(refused).toMatchObject({ level: "warn", trigger: "SIGHUP", path, version: v1.version });
    expect(refused.reason).toMatch(/does not match the parameters/);
    expect(await servedVersion(address)).toBe(v1.version);
    const health = healthClient(address);
    defer(async () => health.close());
    expect(await healthCheck(health, "")).toBe("SERVING");
    const metrics = await scrape(http);
    expect([metrics.value("iris_model_reloads_total", { result: "success" }), metrics.value("iris_model_reloads_total", { result: "failure" })]).toEqual([1, 1]);

    // The good file back: nothing new to load.
    await renameOver(path, JSON.stringify(v1));
    server.child.kill("SIGHUP");
    expect(await server.line((l) => l.msg === "model file unchanged: nothing to reload")).toMatchObject({ trigger: "SIGHUP", version: v1.version });

    expect(server.child.exitCode).toBeNull();
    server.child.kill("SIGTERM");
    const exit = await server.exit;
    expect(exit.code, exit.stderr).toBe(0);
    expect(exit.lines.at(-1)).toMatchObject({ msg: "stopped" });
  });

  it("when Kubernetes swaps the ConfigMap's ..data symlink under the mounted directory", async () => {
    const dir = await tempDir();
    const [v0, v2] = [await variant(0), await variant(2)];
    await mkdir(join(dir, "..2026_12_01_00_00_00.1"));
    await writeFile(join(dir, "..2026_12_01_00_00_00.1", "model.json"), JSON.stringify(v0));
    await symlink("..2026_12_01_00_00_00.1", join(dir, "..data"));
    await symlink("..data/model.json", join(dir, "model.json"));
    const server = iris(["serve", "--host", "127.0.0.1", "--port", "0", "--model", dir, "--model-poll-interval", "200ms"]);
    const serving = await server.line((l) => l.msg === "serving");
    expect(serving).toMatchObject({ model: { version: v0.version, path: join(dir, "model.json") }, modelPollIntervalMs: 200 });

    await mkdir(join(dir, "..2026_12_01_00_05_00.2"));
    await writeFile(join(dir, "..2026_12_01_00_05_00.2", "model.json"), JSON.stringify(v2));
    await symlink("..2026_12_01_00_05_00.2", join(dir, "..data_tmp"));
    await rename(join(dir, "..data_tmp"), join(dir, "..data"));
    await rm(join(dir, "..2026_12_01_00_00_00.1"), { recursive: true });
    expect(await server.line((l) => l.msg === "model reloaded")).toMatchObject({ trigger: "poll", from: v0.version, to: v2.version });
    expect(await servedVersion(`127.0.0.1:${serving.port as number}`)).toBe(v2.version);
    expect(server.lines.filter((l) => l.level === "warn")).toEqual([]);
  });
});

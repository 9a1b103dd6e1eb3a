/**
 * Hot reload against a real server (in this process, polling a real file
 * every 50 ms): 20 swaps while clients of every API call without pause,
 * with no failed call and every answer from one served version, computed
 * by that version; bad files of every kind refused while the old model
 * keeps serving; the next good file picked up; in-place writes and the
 * symlink swap of a Kubernetes ConfigMap volume. (SIGHUP against a real
 * `iris serve`: test/serve-reload.test.ts.)
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { appendFile, mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { credentials } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { GRPCInferenceServiceClient } from "../src/gen/inference/open_inference_grpc.js";
import { IrisModel, modelVersion, resolveModelPath, type ModelArtifact } from "../src/model/index.js";
import { ModelHolder } from "../src/server/model-holder.js";
import { ModelReloader, type ReloadOutcome } from "../src/server/model-reloader.js";
import type { ReloadResult } from "../src/server/model-reloader.js";
import { memoryLogger } from "./support/memory-logger.js";
import { scrape } from "./support/metrics.js";
import { call, healthCheck, referenceArtifact, watchStatuses } from "./support/service-fixtures.js";
import { useServers } from "./support/use-servers.js";

const servers = useServers();
const MODEL = "iris-logreg";
const POLL_MS = 50;

/** A valid artifact unlike the reference one: coefficients scaled by 1 + i/10 (i = 0: the reference). */
async function variant(i: number): Promise<ModelArtifact> {
  const a = await referenceArtifact();
  const coefficients = a.coefficients.map((r) => r.map((w) => w * (1 + i / 10)));
  const version = modelVersion({ features: a.features.map((f) => f.name), classes: a.classes, coefficients, intercepts: a.intercepts });
  return { ...a, coefficients, version };
}

/** Replaces `path` atomically: a new file renamed over it. */
async function renameOver(path: string, text: string): Promise<void> {
  const tmp = `${path}.${randomUUID()}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "iris-reload-"));
  servers.defer(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A server reloading `path`, with its log lines. */
async function reloading(path: string, options: { modelName?: string } = {}) {
  const { logger, lines } = memoryLogger("info");
  const holder = new ModelHolder();
  const reloader = new ModelReloader({ path, holder, logger, pollIntervalMs: POLL_MS, modelName: options.modelName });
  await reloader.load();
  const t = await servers.start({ holder, logger, reloader, httpPort: 0, modelName: options.modelName });
  /** Resolves with the next reload's result (register before causing it). */
  const next = (): Promise<{ result: ReloadResult; outcome: ReloadOutcome }> =>
    new Promise((resolve) => {
      const off = reloader.onReload((result, outcome) => {
        off();
        resolve({ result, outcome });
      });
    });
  return { t, holder, reloader, lines, next, http: `http://127.0.0.1:${t.server.httpPort}` };
}

const ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.2, 2.9, 4.3, 1.3],
  [7.7, 3.0, 6.1, 2.3],
  [5.9, 3.0, 5.1, 1.8],
];
const flower = ([sepalLength, sepalWidth, petalLength, petalWidth]: number[]) => ({ sepalLength, sepalWidth, petalLength, petalWidth });

describe("hot reload", () => {
  it("swaps the model 20 times under load: no call fails, every answer comes whole from a version that was served", async () => {
    const dir = await tempDir();
    const path = join(dir, "model.json");
    await writeFile(path, JSON.stringify(await variant(0)));
    const { t, holder, next, http, lines } = await reloading(path);
    const models = new Map<string, IrisModel>();
    for (let i = 0; i <= 20; i++) {
      const m = new IrisModel(await variant(i));
      models.set(m.version, m);
    }
    expect(models.size).toBe(21);
    const initialLoadedAt = holder.current!.loadedAt;
    const watch = watchStatuses(servers.health(t.address), "");
    expect(await watch.next()).toBe("SERVING");

    /** Checks one answer: a served version, and every row exactly what that version predicts. */
    const seen = new Set<string>();
    const check = (version: string, probabilities: number[][]): void => {
      const m = models.get(version);
      if (m === undefined) throw new Error(`answer from version ${version}, which was never served`);
      seen.add(version);
      probabilities.forEach((p, r) => expect(p).toEqual(m.predict(ROWS[r % ROWS.length]!).probabilities));
    };
    const iris = servers.client(t.address);
    const oip = new GRPCInferenceServiceClient(t.address, credentials.createInsecure());
    servers.defer(() => oip.close());
    const batchRows = Array.from({ length: 40 }, (_, i) => ROWS[i % ROWS.length]!);
    const kinds: Record<string, () => Promise<void>> = {
      predict: async () => {
        const r = await call(iris, iris.predict, { flower: flower(ROWS[2]!) });
        if (!r.ok) throw r.err;
        const m = models.get(r.res.modelVersion);
        if (m === undefined) throw new Error(`answer from version ${r.res.modelVersion}, which was never served`);
        seen.add(r.res.modelVersion);
        expect(r.res.prediction!.probabilities).toEqual(m.predict(ROWS[2]!).probabilities);
      },
      batchPredict: async () => {
        const r = await call(iris, iris.batchPredict, { flowers: batchRows.map(flower), omitProbabilities: false });
        if (!r.ok) throw r.err;
        const k = r.res.classes.length;
        check(r.res.modelVersion, batchRows.map((_, i) => r.res.probabilities.slice(i * k, (i + 1) * k)));
      },
      oipGrpc: async () => {
        const r = await call(oip, oip.modelInfer, {
          modelName: MODEL,
          modelVersion: "",
          id: "",
          parameters: {},
          inputs: [{ name: "x", datatype: "FP64", shape: [4, 4], parameters: {}, contents: undefined }],
          outputs: [{ name: "predict_proba", parameters: {} }],
          rawInputContents: [Buffer.from(new Float64Array(ROWS.flat()).buffer)],
        });
        if (!r.ok) throw r.err;
        const raw = r.res.rawOutputContents[0]!;
        const p = Array.from({ length: 4 }, (_, i) => Array.from({ length: 3 }, (_, c) => raw.readDoubleLE((i * 3 + c) * 8)));
        check(r.res.modelVersion, p);
      },
      http: async () => {
        const res = await fetch(`${http}/predict`, { method: "POST", body: JSON.stringify({ features: ROWS }) });
        if (res.status !== 200) throw new Error(`POST /predict answered ${res.status}: ${await res.text()}`);
        const body = (await res.json()) as { model_version: string; probabilities: number[][] };
        check(body.model_version, body.probabilities);
      },
      modelInfo: async () => {
        const r = await call(iris, iris.modelInfo, {});
        if (!r.ok) throw r.err;
        if (!models.has(r.res.version)) throw new Error(`ModelInfo of version ${r.res.version}, which was never served`);
      },
    };

    let stop = false;
    const failures: unknown[] = [];
    const counts: Record<string, number> = {};
    // Each client calls without pause until told to stop; after the last swap, `tailDone` resolves once each has made 3 more calls.
    let afterLast = false;
    const tail: Record<string, number> = {};
    let tailDone!: () => void;
    const tailed = new Promise<void>((resolve) => (tailDone = resolve));
    const clients = Object.entries(kinds).map(async ([kind, once]) => {
      counts[kind] = 0;
      tail[kind] = 0;
      while (!stop) {
        try {
          await once();
        } catch (err) {
          failures.push(err);
        }
        counts[kind]!++;
        if (afterLast && ++tail[kind]! >= 3 && Object.values(tail).every((n) => n >= 3)) tailDone();
      }
    });

    for (let i = 1; i <= 20; i++) {
      const swapped = next();
      await renameOver(path, JSON.stringify(await variant(i)));
      const { result, outcome } = await swapped;
      expect([result, outcome.result === "success" && outcome.version]).toEqual(["success", [...models.keys()][i]]);
      expect(holder.current!.model.version).toBe([...models.keys()][i]);
    }
    afterLast = true;
    // Every client makes a few more calls, answered by the last version, then all stop.
    await tailed;
    stop = true;
    await Promise.all(clients);

    expect(failures).toEqual([]);
    for (const [kind, n] of Object.entries(counts)) expect(n, kind).toBeGreaterThan(5);
    // The calls spanned the swaps: answers came from many versions.
    expect(seen.size).toBeGreaterThan(5);
    const last = [...models.keys()][20]!;
    expect(seen.has(last)).toBe(true);

    // ModelInfo, the protocol's metadata and the metrics follow the swap.
    const info = await call(iris, iris.modelInfo, {});
    if (!info.ok) throw info.err;
    expect(info.res.version).toBe(last);
    expect(info.res.loadedAt!.getTime()).toBeGreaterThan(initialLoadedAt.getTime());
    const metadata = (await (await fetch(`${http}/v2/models/${MODEL}`)).json()) as { versions: string[] };
    expect(metadata.versions).toEqual([last]);
    const s = await scrape(http);
    expect(s.value("iris_model_reloads_total", { result: "success" })).toBe(20);
    expect(s.value("iris_model_reloads_total", { result: "failure" })).toBe(0);
    expect(s.find("iris_model_info").map((x) => x.labels.version)).toEqual([last]);
    expect(s.value("iris_model_loaded_timestamp_seconds")).toBeCloseTo(info.res.loadedAt!.getTime() / 1000, 3);
    // One "model reloaded" line per swap, from and to.
    const reloads = lines.filter((l) => l.msg === "model reloaded");
    expect(reloads).toHaveLength(20);
    expect(reloads.at(-1)).toMatchObject({ level: "info", trigger: "poll", path, to: last, from: [...models.keys()][19] });

    // The health Watch stream heard nothing through the swaps: its next message is the drain's.
    t.server.readiness.drain();
    expect(await watch.next()).toBe("NOT_SERVING");
  });

  it("refuses a bad new file of every kind while the old model keeps serving, then picks up the next good one", async () => {
    const dir = await tempDir();
    const path = join(dir, "model.json");
    const good = JSON.stringify(await variant(0), null, 2);
    await writeFile(path, good);
    const { t, holder, next, http, lines } = await reloading(path);
    const served = holder.current!.model.version;
    const iris = servers.client(t.address);
    const health = servers.health(t.address);
    const tampered = { ...(await variant(3)), intercepts: [0, 0, 0] };
    const renamed = { ...(await variant(4)), name: "another-model" };

    const badFiles: [label: string, write: () => Promise<void>, reason: RegExp][] = [
      ["unparsable", () => renameOver(path, "{ this is not JSON"), /model\.json:1:3: not valid JSON/],
      ["invalid", () => renameOver(path, JSON.stringify({ format: "iris-serve.model.v1" })), /invalid model artifact/],
      ["altered", () => renameOver(path, JSON.stringify(tampered)), /does not match the parameters .* altered or corrupted/],
      ["half-written", () => renameOver(path, good.slice(0, good.length / 2)), /not valid JSON/],
      ["renamed", () => renameOver(path, JSON.stringify(renamed)), /named "another-model", but clients .* address the served one as "iris-logreg"/],
      ["a directory", async () => (await rm(path), await mkdir(path)), /cannot read model file/],
      ["a FIFO", async () => void (await rm(path, { recursive: true }), await promisify(execFile)("mkfifo", [path])), /not a regular file \(a FIFO\)/],
      ["unreadable (a symlink loop)", async () => (await rm(path, { recursive: true }), await symlink("model.json", path)), /cannot read model file/],
      ["missing", () => rm(path, { recursive: true }), /model file not found/],
    ];
    let failures = 0;
    for (const [label, write, reason] of badFiles) {
      const refused = next();
      await write();
      const { result, outcome } = await refused;
      failures++;
      expect([label, result]).toEqual([label, "failure"]);
      expect(outcome.result === "failure" && outcome.reason, label).toMatch(reason);
      // The old model answers; health stays SERVING.
      const p = await call(iris, iris.predict, { flower: flower(ROWS[0]!) });
      expect(p.ok && p.res.modelVersion, label).toBe(served);
      expect(await healthCheck(health, ""), label).toBe("SERVING");
      expect((await fetch(`${http}/v2/health/ready`)).status, label).toBe(200);
      const warning = lines.filter((l) => l.msg === `model reload refused: still serving version ${served}`).at(-1);
      expect(warning, label).toMatchObject({ level: "warn", trigger: "poll", path, version: served });
      expect(String(warning!.reason), label).toMatch(reason);
    }
    expect((await scrape(http)).value("iris_model_reloads_total", { result: "failure" })).toBe(failures);

    // The next good file is picked up.
    const picked = next();
    const v5 = await variant(5);
    await renameOver(path, JSON.stringify(v5));
    expect((await picked).outcome).toEqual({ result: "success", version: v5.version, previous: served });
    const after = await scrape(http);
    expect([after.value("iris_model_reloads_total", { result: "success" }), after.value("iris_model_reloads_total", { result: "failure" })]).toEqual([1, failures]);
  });

  it("picks up an in-place write once it is complete, and reloads nothing for the same bytes", async () => {
    const dir = await tempDir();
    const path = join(dir, "model.json");
    await writeFile(path, JSON.stringify(await variant(0)));
    const { holder, reloader, next } = await reloading(path);
    const text = JSON.stringify(await variant(6), null, 2);

    // A writer that stops half-way: refused as invalid; when it finishes, the complete file is served.
    const half = next();
    await writeFile(path, text.slice(0, 1000));
    expect((await half).result).toBe("failure");
    const complete = next();
    await appendFile(path, text.slice(1000));
    expect((await complete).outcome).toMatchObject({ result: "success", version: (await variant(6)).version });

    // One write of the whole file in place.
    const whole = next();
    await writeFile(path, JSON.stringify(await variant(7)));
    expect((await whole).outcome).toMatchObject({ result: "success", version: (await variant(7)).version });

    // The same bytes written again: nothing to reload (a forced look says so).
    const loadedAt = holder.current!.loadedAt;
    await writeFile(path, await readFile(path, "utf8"));
    expect(await reloader.reload()).toEqual({ result: "unchanged", version: (await variant(7)).version });
    expect(holder.current!.loadedAt).toBe(loadedAt);
  });

  it("follows the symlink swap by which Kubernetes updates a mounted ConfigMap", async () => {
    const dir = await tempDir();
    // The kubelet's layout: model.json -> ..data/model.json, ..data -> ..<timestamp>/.
    await mkdir(join(dir, "..2026_12_01_00_00_00.000000001"));
    await writeFile(join(dir, "..2026_12_01_00_00_00.000000001", "model.json"), JSON.stringify(await variant(0)));
    await symlink("..2026_12_01_00_00_00.000000001", join(dir, "..data"));
    await symlink("..data/model.json", join(dir, "model.json"));
    const { holder, next, lines } = await reloading(await resolveModelPath(dir));
    expect(holder.current!.model.version).toBe((await variant(0)).version);

    // An update: a new timestamped directory, a new ..data link renamed over the old one, the old directory removed.
    const swapped = next();
    await mkdir(join(dir, "..2026_12_01_00_05_00.000000002"));
    await writeFile(join(dir, "..2026_12_01_00_05_00.000000002", "model.json"), JSON.stringify(await variant(8)));
    await symlink("..2026_12_01_00_05_00.000000002", join(dir, "..data_tmp"));
    await rename(join(dir, "..data_tmp"), join(dir, "..data"));
    await rm(join(dir, "..2026_12_01_00_00_00.000000001"), { recursive: true });
    expect((await swapped).outcome).toMatchObject({ result: "success", version: (await variant(8)).version });
    expect(holder.current!.model.version).toBe((await variant(8)).version);
    expect(lines.filter((l) => l.level === "warn")).toEqual([]);
  });

  it("accepts a model under another name when --model-name fixes the name clients use", async () => {
    const dir = await tempDir();
    const path = join(dir, "model.json");
    await writeFile(path, JSON.stringify(await variant(0)));
    const { t, next } = await reloading(path, { modelName: "iris" });
    const swapped = next();
    await renameOver(path, JSON.stringify({ ...(await variant(9)), name: "iris-logreg-v2" }));
    expect((await swapped).result).toBe("success");
    const res = await fetch(`http://127.0.0.1:${t.server.httpPort}/v2/models/iris`);
    expect(((await res.json()) as { versions: string[] }).versions).toEqual([(await variant(9)).version]);
  });
});

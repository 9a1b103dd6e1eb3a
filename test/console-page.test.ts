/**
 * The web console's server side on a real server: the page at `/` (the
 * model card drawn with the training report's own charts, the data block
 * the script reads), its assets (content-hashed names, caching,
 * revalidation), the strict Content-Security-Policy on every console
 * answer, /console/model.json, a model swap, no model, and the link from
 * /docs. The browser side is test/browser/.
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { IrisModel } from "../src/model/index.js";
import { CHART_STYLE, classScoresSvg, confusionMatrixSvg, foldAccuracySvg } from "../src/report/index.js";
import { CONTENT_SECURITY_POLICY } from "../src/server/http/console/routes.js";
import { referenceArtifact } from "./support/service-fixtures.js";
import { httpClient, type HttpClient, type HttpResponse } from "./support/http-client.js";
import { useServers } from "./support/use-servers.js";

const BUNDLE = new URL("../dist/console/console.js", import.meta.url);
const servers = useServers();

beforeAll(async () => {
  // The script the page links to: built as npm run build does.
  await promisify(execFile)(process.execPath, ["src/console/build.mjs"]);
});

async function start(model?: IrisModel | null): Promise<{ http: HttpClient; swap: (m: IrisModel) => void }> {
  const t = await servers.start({ httpPort: 0, ...(model !== undefined ? { model } : {}) });
  return { http: httpClient(`http://127.0.0.1:${t.server.httpPort}`), swap: (m) => t.holder.swap(m) };
}

/** The JSON data block the page hands its script. */
function dataBlock(page: HttpResponse): Record<string, unknown> {
  const json = /<script type="application\/json" id="console-data">(.*?)<\/script>/s.exec(page.text)?.[1];
  expect(json).toBeDefined();
  return JSON.parse(json!) as Record<string, unknown>;
}

/** The assets the page links to (stylesheet, icon, script). */
function linked(page: HttpResponse): string[] {
  return [...page.text.matchAll(/(?:href|src)="(\/console\/[^"]+)"/g)].map((m) => m[1]!);
}

function expectConsoleHeaders(res: HttpResponse): void {
  expect(res.headers.get("content-security-policy")).toBe(CONTENT_SECURITY_POLICY);
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
}

describe("GET /", () => {
  it("is the model card of the served model, its charts drawn by the training report's functions", async () => {
    const { http } = await start();
    const a = await referenceArtifact();
    const page = await http.get("/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expectConsoleHeaders(page);
    expect(page.text).toContain(`<code data-role="version">${a.version}</code>`);
    const h = a.metrics.heldOut!;
    for (const svg of [confusionMatrixSvg(a.classes, h.confusionMatrix), classScoresSvg(h.perClass), foldAccuracySvg(a.metrics.crossValidation)]) {
      expect(page.text).toContain(svg);
    }
    // 29 of 30 held out in the reference artifact.
    expect(page.text).toContain("96.7 %");
    expect(page.text).toContain("29 of 30 test rows");
    // Nothing from another origin: the page works offline and under its CSP.
    expect(page.text).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
    expect(page.text).not.toMatch(/\sstyle="/);
    expect(page.text).not.toMatch(/<script(?![^>]*(?:type="module" src="\/console\/|type="application\/json"))/);
  });

  it("hands the script the model's name, version, classes and training ranges, and the server's gRPC port and limits", async () => {
    const t = await servers.start({ httpPort: 0, maxBatchRows: 250 });
    const http = httpClient(`http://127.0.0.1:${t.server.httpPort}`);
    const page = await http.get("/");
    const a = await referenceArtifact();
    expect(dataBlock(page)).toEqual({
      modelName: a.name,
      version: a.version,
      loadedAt: t.holder.current!.loadedAt.toISOString(),
      grpcPort: t.server.port,
      maxBatchRows: 250,
      // Whether the Live panel has metrics to read.
      metrics: (await http.get("/metrics", { conformance: false })).status === 200,
      classes: a.classes,
      features: a.features.map(({ name, unit, min, max }) => ({ name, unit, min, max })),
    });
  });

  it("is revalidated by ETag, and changes when the model is swapped", async () => {
    const { http, swap } = await start();
    const first = await http.get("/");
    const etag = first.headers.get("etag")!;
    expect(first.headers.get("cache-control")).toBe("no-cache");
    const again = await http.get("/", { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    expect(again.text).toBe("");
    expectConsoleHeaders(again);

    const a = await referenceArtifact();
    const other = structuredClone(a);
    other.name = "iris-other";
    swap(new IrisModel(other));
    const after = await http.get("/", { headers: { "if-none-match": etag } });
    expect(after.status).toBe(200);
    expect(after.headers.get("etag")).not.toBe(etag);
    expect(after.text).toContain("<code>iris-other</code>");
    const model = await http.get("/console/model.json");
    expect(model.status).toBe(200);
    expectConsoleHeaders(model);
    expect(model.headers.get("cache-control")).toBe("no-store");
    expect((model.json as { modelName: string }).modelName).toBe("iris-other");
  });

  it("says so, and looks again, while no model is loaded", async () => {
    const { http } = await start(null);
    const page = await http.get("/");
    expect(page.status).toBe(503);
    expectConsoleHeaders(page);
    expect(page.text).toContain("No model is loaded yet");
    expect(page.text).toContain('<meta http-equiv="refresh" content="5">');
    const model = await http.get("/console/model.json");
    expect([model.status, model.json]).toEqual([503, { error: "no model is loaded yet; retry shortly" }]);
  });
});

describe("the console's assets", () => {
  it("are served under content-hashed names, cached a year, revalidated by ETag", async () => {
    const { http } = await start();
    const page = await http.get("/");
    const assets = linked(page);
    expect(assets.map((p) => p.replace(/-[0-9a-f]{16}\./, "-HASH.")).sort()).toEqual([
      "/console/console-HASH.css",
      "/console/console-HASH.js",
      "/console/icon-HASH.svg",
    ]);
    const bundle = await readFile(BUNDLE);
    for (const path of assets) {
      const res = await http.get(path);
      expect(res.status, path).toBe(200);
      expectConsoleHeaders(res);
      expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      if (path.endsWith(".js")) {
        expect(res.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
        expect(res.bytes.equals(bundle)).toBe(true);
      }
      if (path.endsWith(".css")) expect(res.text).toContain(CHART_STYLE);
      const again = await http.get(path, { headers: { "if-none-match": res.headers.get("etag")! } });
      expect(again.status, path).toBe(304);
    }
  });

  it("answers an unknown name 404, in the port's error form", async () => {
    const { http } = await start();
    const res = await http.get("/console/console-0000000000000000.js");
    expect([res.status, res.json]).toEqual([404, { error: "no console asset /console/console-0000000000000000.js; the page names the current ones" }]);
    expectConsoleHeaders(res);
  });
});

describe("/docs", () => {
  it("links to the console", async () => {
    const { http } = await start();
    const doc = (await http.get("/openapi.json")).json as { info: { description: string } };
    expect(doc.info.description).toContain("[web console](/)");
  });
});

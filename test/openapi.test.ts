/**
 * The HTTP port's OpenAPI document (`/openapi.json`) and its interactive
 * page (`/docs`), on a real server. The document is validated by an
 * OpenAPI validator (@readme/openapi-parser); that every real answer matches
 * it is checked by support/http-client.ts on every request of the HTTP
 * suites, whose checker is itself tested here.
 */
import { validate } from "@readme/openapi-parser";
import { describe, expect, it } from "vitest";
import { checkConformance, checkerFor, httpClient, openApiAjv, type HttpClient, type HttpResponse } from "./support/http-client.js";
import { useServer } from "./support/use-servers.js";

const server = useServer({ httpPort: 0, serverVersion: "3.4.5" });
const base = (): string => `http://127.0.0.1:${server().server.httpPort}`;
const http = (): HttpClient => httpClient(base());

interface Document {
  openapi: string;
  info: { version: string };
  paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: object }> }; responses: Record<string, { content?: Record<string, unknown> }> }>>;
}

async function document(): Promise<Document> {
  const res = await http().get("/openapi.json");
  expect(res.status).toBe(200);
  return res.json as Document;
}

function response(status: number, body: unknown, contentType = "application/json; charset=utf-8"): HttpResponse {
  const text = JSON.stringify(body);
  return { status, headers: new Headers({ "content-type": contentType }), bytes: Buffer.from(text), text, json: body };
}

describe("/openapi.json", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const doc = await document();
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info.version).toBe("3.4.5");
    const result = await validate(structuredClone(doc) as never);
    expect(result).toEqual({ valid: true, warnings: [], specification: "OpenAPI" });
  });

  it("describes every route with the answers it gives", async () => {
    const doc = await document();
    const routes = Object.entries(doc.paths).flatMap(([path, operations]) =>
      Object.entries(operations).map(([method, op]) => `${method.toUpperCase()} ${path} ${Object.keys(op.responses).join(",")}`),
    );
    expect(routes.sort()).toEqual(
      [
        "POST /predict 200,400,413,503",
        "GET /metrics 200",
        "GET /v2/health/live 200",
        "GET /v2/health/ready 200,503",
        "GET /v2 200",
        "GET /v2/models/{name} 200,404,503",
        "GET /v2/models/{name}/versions/{version} 200,404,503",
        "GET /v2/models/{name}/ready 200,404,503",
        "GET /v2/models/{name}/versions/{version}/ready 200,404,503",
        "POST /v2/models/{name}/infer 200,400,404,413,503",
        "POST /v2/models/{name}/versions/{version}/infer 200,400,404,413,503",
      ].sort(),
    );
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(operations)) {
        for (const [status, declared] of Object.entries(op.responses)) {
          // Everything answers JSON but the Prometheus text of /metrics.
          expect(Object.keys(declared.content ?? {}), `${method} ${path} ${status}`).toContain(path === "/metrics" ? "text/plain" : "application/json");
        }
      }
    }
    const infer = doc.paths["/v2/models/{name}/infer"]!.post!;
    expect(Object.keys(infer.responses["200"]!.content!)).toEqual(["application/json", "application/octet-stream"]);
    expect(Object.keys(infer.requestBody!.content)).toEqual(["application/json", "application/octet-stream"]);
  });

  it("declares the request schema the server validates with", async () => {
    const doc = await document();
    const ajv = openApiAjv(doc);
    const predict = ajv.compile({ $ref: "openapi#/paths/~1predict/post/requestBody/content/application~1json/schema" });
    for (const body of [{ features: [5.1, 3.5, 1.4, 0.2] }, { features: [[5.1, 3.5, 1.4, 0.2]] }]) expect(predict(body)).toBe(true);
    for (const body of [{ features: [5.1, 3.5, -1.4, 0.2] }, { features: [5.1, 3.5, 1.4] }, { features: [[1, 2, 3, 4], 5] }, {}, { features: [1, 2, 3, 4], x: 1 }]) {
      expect(predict(body), JSON.stringify(body)).toBe(false);
      const res = await http().post("/predict", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
  });

  it("is what the interactive page loads", async () => {
    const json = await http().get("/docs/json");
    expect(json.json).toEqual(await document());
  });

  it("catches answers that do not match it (the check every HTTP suite relies on)", async () => {
    const checker = checkerFor((await document()) as unknown as Parameters<typeof checkerFor>[0]);
    const check = (method: string, path: string, res: HttpResponse) => () => checkConformance(checker, method, path, res);
    expect(check("GET", "/v2/health/ready", response(200, { ready: true }))).not.toThrow();
    expect(check("GET", "/v2/health/ready", response(200, { ready: "yes" }))).toThrow(/does not match the documented schema/);
    expect(check("GET", "/v2/health/ready", response(503, { error: "stopping" }))).toThrow(/does not match the documented schema/);
    expect(check("GET", "/v2/health/live", response(503, { live: false }))).toThrow(/status 503 is not documented/);
    expect(check("GET", "/v2", response(200, { name: "x", version: "1" }))).toThrow(/does not match the documented schema/);
    expect(check("POST", "/predict", response(400, { message: "bad" }))).toThrow(/does not match the documented schema/);
    expect(check("POST", "/predict", response(200, "ok", "text/plain"))).toThrow(/Content-Type text\/plain is not documented/);
    expect(check("GET", "/no/such/route", response(404, { reason: "none" }))).toThrow(/not an ErrorBody/);
    expect(check("GET", "/v2/models/iris-logreg/versions/1", response(200, { name: "iris-logreg" }))).toThrow(/documented schema/);
  });
});

describe("/docs", () => {
  it("serves the interactive page with every asset from this server, none from a CDN", async () => {
    const page = await http().get("/docs");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.text).toContain('<div id="swagger-ui"></div>');
    expect(page.text).not.toMatch(/(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i);
    const assets = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(5);
    for (const asset of assets) {
      expect(asset.startsWith("/docs/static/"), asset).toBe(true);
      const res = await http().get(asset);
      expect([asset, res.status]).toEqual([asset, 200]);
      expect(res.bytes.length, asset).toBeGreaterThan(100);
    }
    const initializer = await http().get("/docs/static/swagger-initializer.js");
    // The document comes from this server, and Swagger UI's online validator is off.
    expect(initializer.text).toContain("url: resolveUrl('./json')");
    expect(initializer.text).toContain("validatorUrl: null");
  });
});

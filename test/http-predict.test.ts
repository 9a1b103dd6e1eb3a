/**
 * Contract tests of `POST /predict` on the HTTP port: a real server on
 * 127.0.0.1:0 called with Node's fetch. Answers are compared with the model
 * module's own predictions; every error answer is compared whole.
 */
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { describe, expect, it } from "vitest";
import { loadServerTls } from "../src/server/tls.js";
import { referenceModel, selfSignedCertificate } from "./support/service-fixtures.js";
import { httpClient, type HttpClient } from "./support/http-client.js";
import { useServer, useServers } from "./support/use-servers.js";
import type { IrisModel } from "../src/model/index.js";

const FEATURES = "sepal_length, sepal_width, petal_length, petal_width";
const SETOSA = [5.1, 3.5, 1.4, 0.2];
const VIRGINICA = [7.7, 3.0, 6.1, 2.3];
const VERSICOLOR = [6.2, 2.9, 4.3, 1.3];

const server = useServer({ httpPort: 0 });
const http = (): HttpClient => httpClient(`http://127.0.0.1:${server().server.httpPort}`);

function single(model: IrisModel, row: number[]) {
  const p = model.predict(row);
  return {
    prediction: p.classIndex,
    species: p.label,
    probabilities: p.probabilities,
    model_version: model.version,
    out_of_range: model.featuresOf(model.outOfRange(row)),
  };
}

/** A 400 answer naming these fields; the message is the first one (plus a count of the others). */
function invalid(...violations: [field: string, description: string][]) {
  const [field, description] = violations[0]!;
  const more = violations.length - 1;
  return {
    error: `${field} ${description}${more > 0 ? ` (and ${more} more invalid field${more > 1 ? "s" : ""})` : ""}`,
    violations: violations.map(([f, d]) => ({ field: f, description: d })),
  };
}

function jsonParseError(text: string): string {
  try {
    JSON.parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`${text} is valid JSON`);
}

describe("POST /predict answers as the model module does", () => {
  it("answers one flower with its class, species, probabilities and the model version", async () => {
    const model = await referenceModel();
    for (const row of [SETOSA, VERSICOLOR, VIRGINICA]) {
      const res = await http().post("/predict", { features: row });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
      expect(res.json).toEqual(single(model, row));
    }
    // Keys in the original project's order: prediction first.
    expect(Object.keys((await http().post("/predict", { features: SETOSA })).json as object)).toEqual([
      "prediction",
      "species",
      "probabilities",
      "model_version",
      "out_of_range",
    ]);
  });

  it("answers a batch with one entry per row in every key", async () => {
    const model = await referenceModel();
    const rows = [SETOSA, VERSICOLOR, VIRGINICA, SETOSA];
    const res = await http().post("/predict", { features: rows });
    expect(res.status).toBe(200);
    const expected = rows.map((row) => model.predict(row));
    expect(res.json).toEqual({
      prediction: expected.map((p) => p.classIndex),
      species: expected.map((p) => p.label),
      probabilities: expected.map((p) => p.probabilities),
      model_version: model.version,
      out_of_range: rows.map((row) => model.featuresOf(model.outOfRange(row))),
    });
  });

  it("answers a batch of one row as a batch", async () => {
    const model = await referenceModel();
    const res = await http().post("/predict", { features: [VIRGINICA] });
    const p = model.predict(VIRGINICA);
    expect(res.json).toEqual({
      prediction: [p.classIndex],
      species: [p.label],
      probabilities: [p.probabilities],
      model_version: model.version,
      out_of_range: [[]],
    });
  });

  it("reads a JSON body sent as a form (curl -d) or without any Content-Type", async () => {
    const model = await referenceModel();
    const body = JSON.stringify({ features: VIRGINICA });
    const form = await http().post("/predict", body, { headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect([form.status, form.json]).toEqual([200, single(model, VIRGINICA)]);
    const bare = await http().post("/predict", Buffer.from(body));
    expect([bare.status, bare.json]).toEqual([200, single(model, VIRGINICA)]);
    const text = await http().post("/predict", body, { headers: { "content-type": "text/plain" } });
    expect([text.status, text.json]).toEqual([200, single(model, VIRGINICA)]);
  });
});

describe("POST /predict refuses bad input with 400 and the offending fields", () => {
  const measurement = (i: number, value: unknown): unknown[] => SETOSA.map((v, j) => (j === i ? value : v));
  const cases: [label: string, body: string, expected: unknown][] = [
    ["a negative measurement", JSON.stringify({ features: measurement(2, -1.4) }), invalid(["features[2]", "must be >= 0 cm, got -1.4"])],
    ["an infinite measurement (1e999)", '{"features": [5.1, 3.5, 1e999, 0.2]}', invalid(["features[2]", "must be finite, got Infinity"])],
    ["a string measurement", JSON.stringify({ features: measurement(1, "3.5") }), invalid(["features[1]", 'must be a number, got "3.5"'])],
    ["a null measurement", JSON.stringify({ features: measurement(3, null) }), invalid(["features[3]", "must be a number, got null"])],
    ["three measurements", JSON.stringify({ features: [5.1, 3.5, 1.4] }), invalid(["features", `has 3 values, expected 4 (${FEATURES})`])],
    ["five measurements", JSON.stringify({ features: [...SETOSA, 1] }), invalid(["features", `has 5 values, expected 4 (${FEATURES})`])],
    ["no measurements", JSON.stringify({ features: [] }), invalid(["features", `has 0 values, expected 4 (${FEATURES})`])],
    ["features that is not an array", JSON.stringify({ features: "5.1,3.5,1.4,0.2" }), invalid(["features", 'must be an array, got "5.1,3.5,1.4,0.2"'])],
    ["no features", "{}", invalid(["features", "is required"])],
    [
      "an unknown top-level field",
      JSON.stringify({ features: SETOSA, model: "x" }),
      invalid(["model", "is not a field of this request"]),
    ],
    ["a JSON array body", JSON.stringify([SETOSA]), invalid(["body", `must be an object, got ${JSON.stringify([SETOSA])}`])],
    ["a JSON string body", '"features"', invalid(["body", 'must be an object, got "features"'])],
    ["a JSON number body", "42", invalid(["body", "must be an object, got 42"])],
    ["a JSON null body", "null", invalid(["body", "is empty or null; send a JSON object"])],
    [
      "a batch row with a negative measurement",
      JSON.stringify({ features: [SETOSA, [6.2, 2.9, -4.3, 1.3]] }),
      invalid(["features[1][2]", "must be >= 0 cm, got -4.3"]),
    ],
    [
      "a batch row of three",
      JSON.stringify({ features: [SETOSA, [6.2, 2.9, 4.3]] }),
      invalid(["features[1]", `has 3 values, expected 4 (${FEATURES})`]),
    ],
    ["a batch mixing a row and a number", JSON.stringify({ features: [SETOSA, 3] }), invalid(["features[1]", "must be an array, got 3"])],
    ["a batch mixing a number and a row", JSON.stringify({ features: [3, SETOSA] }), invalid(["features[0]", "must be an array, got 3"])],
    [
      "a batch with several bad rows",
      JSON.stringify({ features: [[5.1, -3.5, 1.4, 0.2], SETOSA, [6.2, 2.9, 4.3], [1, 2, 3, "4"]] }),
      invalid(
        ["features[0][1]", "must be >= 0 cm, got -3.5"],
        ["features[2]", `has 3 values, expected 4 (${FEATURES})`],
        ["features[3][3]", 'must be a number, got "4"'],
      ),
    ],
  ];
  it.each(cases)("%s", async (_label, body, expected) => {
    const res = await http().post("/predict", body, { headers: { "content-type": "application/json" } });
    expect(res.status).toBe(400);
    expect(res.json).toEqual(expected);
  });

  it("lists at most 20 bad fields, and says there were more", async () => {
    const rows = Array.from({ length: 30 }, () => [5.1, 3.5, -1, 0.2]);
    const res = await http().post("/predict", { features: rows });
    expect(res.status).toBe(400);
    const body = res.json as { error: string; violations: { field: string }[] };
    expect(body.error).toBe("features[0][2] must be >= 0 cm, got -1 (and 19+ more invalid fields)");
    expect(body.violations.map((v) => v.field)).toEqual(Array.from({ length: 20 }, (_, r) => `features[${r}][2]`));
  });

  it("refuses an empty body, with or without a JSON Content-Type", async () => {
    for (const headers of [{ "content-type": "application/json" }, {} as Record<string, string>]) {
      const res = await http().post("/predict", Buffer.alloc(0), { headers });
      expect(res.status).toBe(400);
      expect(res.json).toEqual(invalid(["body", "is empty or null; send a JSON object"]));
    }
  });

  it("refuses a body that is not JSON, quoting the parser", async () => {
    for (const text of ['{"features": [5.1, 3.5,', "features=5.1,3.5,1.4,0.2", "{'features': [1, 2, 3, 4]}"]) {
      const res = await http().post("/predict", text, { headers: { "content-type": "application/json" } });
      expect(res.status).toBe(400);
      expect(res.json).toEqual(invalid(["body", `is not valid JSON: ${jsonParseError(text)}`]));
    }
  });

  it("refuses a body using the binary tensor data extension, rather than drop its bytes", async () => {
    const json = Buffer.from(JSON.stringify({ features: SETOSA }));
    const res = await http().post("/predict", Buffer.concat([json, Buffer.alloc(8)]), {
      headers: { "inference-header-content-length": String(json.length) },
    });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      error:
        "the inference-header-content-length header (binary tensor data) is for the inference routes (/v2/models/{name}/infer); send /predict a JSON body without it",
    });
  });

  it("drops __proto__ keys instead of letting them reach the request", async () => {
    const res = await http().post("/predict", `{"features": [5.1, 3.5, 1.4, 0.2], "__proto__": {"polluted": 1}}`, {
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(200);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("POST /predict limits", () => {
  const limited = useServer({ httpPort: 0, maxReceiveBytes: 2048, maxBatchRows: 3 });
  const client = (): HttpClient => httpClient(`http://127.0.0.1:${limited().server.httpPort}`);

  it("answers 413 to a body over the size limit", async () => {
    const rows = Array.from({ length: 200 }, () => SETOSA);
    const body = JSON.stringify({ features: rows });
    expect(body.length).toBeGreaterThan(2048);
    const res = await client().post("/predict", body, { headers: { "content-type": "application/json" } });
    expect(res.status).toBe(413);
    expect(res.json).toEqual({ error: "the request body is larger than the server's limit of 2048 bytes" });
  });

  it("answers 413 to more rows than the batch limit, and 200 at the limit", async () => {
    const model = await referenceModel();
    const over = await client().post("/predict", { features: [SETOSA, SETOSA, SETOSA, SETOSA] });
    expect(over.status).toBe(413);
    expect(over.json).toEqual({ error: "batch of 4 flowers exceeds the limit of 3 rows per call; split it into smaller batches" });
    const at = await client().post("/predict", { features: [SETOSA, VERSICOLOR, VIRGINICA] });
    expect(at.status).toBe(200);
    expect((at.json as { species: string[] }).species).toEqual([SETOSA, VERSICOLOR, VIRGINICA].map((r) => model.predict(r).label));
  });
});

describe("POST /predict without a model", () => {
  const servers = useServers();

  it("answers 503 until a model is swapped in, then the model's answer", async () => {
    const { server: s, holder } = await servers.start({ model: null, httpPort: 0 });
    const client = httpClient(`http://127.0.0.1:${s.httpPort}`);
    const before = await client.post("/predict", { features: SETOSA });
    expect(before.status).toBe(503);
    expect(before.json).toEqual({ error: "no model is loaded yet; retry shortly" });
    const model = await referenceModel();
    holder.swap(model);
    const after = await client.post("/predict", { features: SETOSA });
    expect([after.status, after.json]).toEqual([200, single(model, SETOSA)]);
  });
});

describe("the HTTP port's other answers", () => {
  it("answers an unknown route with 404 and an error body", async () => {
    const res = await http().get("/predictions?x=1");
    expect(res.status).toBe(404);
    expect(res.json).toEqual({ error: "no route GET /predictions; see /docs" });
    const wrongMethod = await http().get("/predict");
    expect(wrongMethod.status).toBe(404);
    expect(wrongMethod.json).toEqual({ error: "no route GET /predict; see /docs" });
  });
});

describe("POST /predict over HTTPS", () => {
  const servers = useServers();

  it("answers over TLS with the certificate the gRPC port uses, and refuses plain HTTP", async () => {
    const dir = await mkdtemp(join(tmpdir(), "iris-https-"));
    servers.defer(() => rm(dir, { recursive: true, force: true }));
    const { certPath, keyPath, cert } = await selfSignedCertificate(dir);
    const { server: s } = await servers.start({ httpPort: 0, tls: await loadServerTls(certPath, keyPath) });
    const body = JSON.stringify({ features: SETOSA });
    const request = https.request({
      host: "127.0.0.1",
      port: s.httpPort,
      method: "POST",
      path: "/predict",
      ca: cert,
      servername: "localhost",
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
    });
    request.end(body);
    const [response] = (await once(request, "response")) as [IncomingMessage];
    // The peer is this certificate's holder.
    expect((response.socket as TLSSocket).getPeerCertificate().subject.CN).toBe("localhost");
    let text = "";
    response.setEncoding("utf8");
    response.on("data", (chunk: string) => (text += chunk));
    await once(response, "end");
    expect([response.statusCode, JSON.parse(text)]).toEqual([200, single(await referenceModel(), SETOSA)]);

    const plain = await fetch(`http://127.0.0.1:${s.httpPort}/v2/health/live`).then(
      (r) => `answered ${r.status}`,
      () => "refused",
    );
    expect(plain).toBe("refused");
  });
});

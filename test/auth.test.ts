/**
 * Authentication against real servers: bearer tokens from a token file
 * (accepted, refused, reloaded when the file changes, never logged) and
 * mutual TLS with certificates made by openssl for the test (a client CA,
 * a client certificate it signed, one it did not); health, readiness and
 * the metrics scrape stay reachable without credentials, on both ports.
 */
import { execFile } from "node:child_process";
import { request as httpsRequest } from "node:https";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { createIrisClient, IrisError, type IrisClientOptions } from "../src/client/index.js";
import { Code } from "../src/errors.js";
import { accessLog } from "../src/server/access-log.js";
import { authStage, parseTokens, TokenFile } from "../src/server/auth.js";
import { loadServerTls } from "../src/server/tls.js";
import { memoryLogger } from "./support/memory-logger.js";
import { SETOSA } from "./support/flowers.js";
import { useIrisProcesses } from "./support/iris-process.js";
import { modelFile } from "./support/service-fixtures.js";
import { useServers } from "./support/use-servers.js";

const servers = useServers();
const { iris, defer } = useIrisProcesses();
const run = promisify(execFile);

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "iris-auth-"));
  servers.defer(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function client(address: string, options: IrisClientOptions = {}) {
  const c = createIrisClient(address, { deadlineMs: 20_000, ...options });
  servers.defer(() => c.close());
  return c;
}

/** The code a call rejects with, or OK. */
async function codeOf(call: Promise<unknown>): Promise<Code> {
  try {
    await call;
    return Code.OK;
  } catch (err) {
    if (err instanceof IrisError) return err.code;
    throw err;
  }
}

async function tokenServer(tokens: string) {
  const dir = await tempDir();
  const path = join(dir, "tokens");
  await writeFile(path, tokens);
  const { logger, lines } = memoryLogger("info");
  const file = await TokenFile.open(path, logger);
  servers.defer(() => file.close());
  const t = await servers.start({
    auth: authStage({ tokens: file }),
    logLevel: "debug",
    httpPort: 0,
  });
  return { t, path, file, logs: lines };
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
}

describe("token files", () => {
  it("are read one token a line, blank lines and # comments aside", () => {
    expect(parseTokens("# ops\nalpha\r\n\n  beta  \n#gamma\n")).toEqual(["alpha", "beta"]);
  });

  it("refuse to open without a token", async () => {
    const dir = await tempDir();
    const path = join(dir, "tokens");
    await writeFile(path, "# nothing yet\n\n");
    const { logger } = memoryLogger("info");
    await expect(TokenFile.open(path, logger)).rejects.toThrow(`${path}: the token file holds no token (one a line)`);
    await expect(TokenFile.open(join(dir, "missing"), logger)).rejects.toThrow(/cannot read the token file/);
  });
});

describe("bearer tokens over gRPC", () => {
  it("accept a listed token, refuse a missing, malformed or unknown one with UNAUTHENTICATED, and let health through", async () => {
    const { t } = await tokenServer("# tokens\nfirst-token\nsecond-token\n");
    expect(await codeOf(client(t.address, { token: "first-token" }).predict(SETOSA))).toBe(Code.OK);
    expect(await codeOf(client(t.address, { token: "second-token" }).predict(SETOSA))).toBe(Code.OK);
    expect(await codeOf(client(t.address).predict(SETOSA))).toBe(Code.UNAUTHENTICATED);
    expect(await codeOf(client(t.address, { token: "first-token-" }).predict(SETOSA))).toBe(Code.UNAUTHENTICATED);
    expect(await codeOf(client(t.address, { token: "first" }).modelInfo())).toBe(Code.UNAUTHENTICATED);
    const refused = await client(t.address).predict(SETOSA).catch((e: unknown) => e as IrisError);
    expect(refused).toMatchObject({ code: Code.UNAUTHENTICATED, message: 'this server requires a bearer token: send "authorization: Bearer <token>"' });
    const malformed = await client(t.address)
      .predict(SETOSA, { metadata: { authorization: "Basic Zmlyc3Q=" } })
      .catch((e: unknown) => e as IrisError);
    expect(malformed).toMatchObject({ code: Code.UNAUTHENTICATED, message: 'the authorization is not of the form "Bearer <token>"' });
    // Probes need no token.
    const health = servers.health(t.address);
    const status = await new Promise<string | undefined>((resolve, reject) =>
      health.check({ service: "" }, (err, res) => (err ? reject(err) : resolve(res?.status))),
    );
    expect(status).toBe("SERVING");
  });

  it("follow the token file as it changes: a new token is accepted, a removed one refused", async () => {
    const { t, path, logs } = await tokenServer("old-token\n");
    const old = client(t.address, { token: "old-token" });
    const fresh = client(t.address, { token: "new-token" });
    expect(await codeOf(old.predict(SETOSA))).toBe(Code.OK);
    await writeFile(path, "new-token\n");
    // The file is checked about once a second: each call is answered after a full turn of the server's loop.
    while ((await codeOf(fresh.predict(SETOSA))) !== Code.OK) {
      /* until the new file is read */
    }
    expect(await codeOf(old.predict(SETOSA))).toBe(Code.UNAUTHENTICATED);
    expect(logs.some((l) => l.msg === "token file reread" && l.tokens === 1)).toBe(true);
    // A file emptied by mistake keeps the tokens in force.
    await writeFile(path, "");
    while (!logs.some((l) => l.msg === "token file not reread: the tokens read last stay in force")) {
      expect(await codeOf(fresh.predict(SETOSA))).toBe(Code.OK);
    }
    expect(await codeOf(fresh.predict(SETOSA))).toBe(Code.OK);
  });

  it("are never written to the log, whatever the level", async () => {
    const dir = await tempDir();
    const path = join(dir, "tokens");
    await writeFile(path, "secret-token-1234\n");
    const { logger } = memoryLogger("info");
    const file = await TokenFile.open(path, logger);
    servers.defer(() => file.close());
    const logged = memoryLogger("trace");
    const t = await servers.start({ auth: authStage({ tokens: file }), logLevel: "trace", httpPort: 0, stages: [accessLog(logged.logger)] });
    await codeOf(client(t.address, { token: "secret-token-1234" }).predict(SETOSA));
    await codeOf(client(t.address, { token: "secret-token-12345" }).predict(SETOSA));
    await post(`http://127.0.0.1:${t.server.httpPort}/predict`, { features: [5.1, 3.5, 1.4, 0.2] }, { authorization: "Bearer secret-token-1234" });
    const all = JSON.stringify([...t.logs, ...logged.lines]);
    expect(logged.lines.filter((l) => l.msg === "access")).toHaveLength(3);
    expect(all).not.toContain("secret-token");
  });
});

describe("bearer tokens over HTTP", () => {
  it("answer 401 with WWW-Authenticate without a good token, and leave health, readiness and metrics open", async () => {
    const { t } = await tokenServer("http-token\n");
    const base = `http://127.0.0.1:${t.server.httpPort}`;
    const row = { features: [5.1, 3.5, 1.4, 0.2] };
    const ok = await post(`${base}/predict`, row, { authorization: "Bearer http-token" });
    expect(ok.status).toBe(200);
    const missing = await post(`${base}/predict`, row);
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toBe('Bearer realm="iris-serve"');
    expect(await missing.json()).toEqual({ error: 'this server requires a bearer token: send "authorization: Bearer <token>"' });
    expect((await post(`${base}/predict`, row, { authorization: "Bearer nope" })).status).toBe(401);
    expect((await fetch(`${base}/v2/models/iris-logreg`)).status).toBe(401);
    for (const open of ["/v2/health/live", "/v2/health/ready", "/v2/models/iris-logreg/ready", "/metrics"]) {
      expect([open, (await fetch(`${base}${open}`)).status]).toEqual([open, 200]);
    }
  });
});

describe("the CLI with a token file", () => {
  it("iris serve --token-file refuses iris predict --remote without --token-file, and answers it with one", async () => {
    const dir = await tempDir();
    const tokens = join(dir, "tokens");
    await writeFile(tokens, "cli-token\n");
    const m = await modelFile();
    defer(m.cleanup);
    const server = iris(["serve", "--host", "127.0.0.1", "--port", "0", "--http-port", "off", "--model", m.path, "--token-file", tokens]);
    const serving = await server.line((l) => l.msg === "serving");
    expect(serving.auth).toEqual({ tokens: { file: tokens, count: 1 }, clientCertificates: false });
    const remote = `127.0.0.1:${serving.port as number}`;
    const refused = await iris(["predict", "--remote", remote, "--input", "[5.1,3.5,1.4,0.2]"]).exit;
    expect([refused.code, refused.stderr]).toEqual([
      1,
      `iris predict: ${remote}: UNAUTHENTICATED: this server requires a bearer token: send "authorization: Bearer <token>"\n`,
    ]);
    const answered = await iris(["predict", "--remote", remote, "--token-file", tokens, "--input", "[5.1,3.5,1.4,0.2]"]).exit;
    expect(answered.code, answered.stderr).toBe(0);
    const health = await iris(["health", "--address", remote]).exit;
    expect(health.code, health.stderr).toBe(0);
    server.child.kill("SIGTERM");
    expect((await server.exit).code).toBe(0);
  });
});

/** A CA, a server certificate, a client certificate the CA signed and one it did not (self-signed), made by openssl. */
async function pki(dir: string) {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const p = (name: string) => join(dir, name);
  await run("openssl", ["req", "-x509", ...ec, "-days", "2", "-subj", "/CN=iris test client CA", "-keyout", p("ca.key"), "-out", p("ca.pem")]);
  await run("openssl", [
    "req", "-x509", ...ec, "-days", "2", "-subj", "/CN=localhost",
    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", p("server.key"), "-out", p("server.pem"),
  ]);
  await run("openssl", ["req", ...ec, "-subj", "/O=Iris Ops/CN=batch-job", "-keyout", p("client.key"), "-out", p("client.csr")]);
  await run("openssl", [
    "x509", "-req", "-in", p("client.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"), "-CAcreateserial", "-days", "2", "-out", p("client.pem"),
  ]);
  await run("openssl", ["req", "-x509", ...ec, "-days", "2", "-subj", "/CN=intruder", "-keyout", p("rogue.key"), "-out", p("rogue.pem")]);
  const read = (name: string) => readFile(p(name));
  return {
    paths: { ca: p("ca.pem"), serverCert: p("server.pem"), serverKey: p("server.key"), clientCert: p("client.pem"), clientKey: p("client.key") },
    serverCert: await read("server.pem"),
    client: { cert: await read("client.pem"), key: await read("client.key") },
    rogue: { cert: await read("rogue.pem"), key: await read("rogue.key") },
  };
}

function httpsStatus(port: number, path: string, tls: { ca: Buffer; cert?: Buffer; key?: Buffer }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port, path, servername: "localhost", agent: false, ...tls }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("mutual TLS", () => {
  it("serves a client whose certificate the client CA signed, refuses others with UNAUTHENTICATED / 401, keeps probes open, logs the verified subject", async () => {
    const dir = await tempDir();
    const k = await pki(dir);
    const tls = await loadServerTls(k.paths.serverCert, k.paths.serverKey, k.paths.ca);
    const logged = memoryLogger("info");
    const t = await servers.start({ tls, httpPort: 0, auth: authStage({ clientCertificates: true }), stages: [accessLog(logged.logger)] });
    const address = `localhost:${t.server.port}`;
    const withCert = client(address, { credentials: { tls: { rootCerts: k.serverCert, certChain: k.client.cert, privateKey: k.client.key } } });
    const rogue = client(address, { credentials: { tls: { rootCerts: k.serverCert, certChain: k.rogue.cert, privateKey: k.rogue.key } } });
    const without = client(address, { credentials: { tls: { rootCerts: k.serverCert } } });
    expect(await codeOf(withCert.predict(SETOSA))).toBe(Code.OK);
    const refused = await without.predict(SETOSA).catch((e: unknown) => e as IrisError);
    expect(refused).toMatchObject({
      code: Code.UNAUTHENTICATED,
      message: "this server requires a client certificate signed by its client CA (mutual TLS)",
    });
    expect(await codeOf(rogue.predict(SETOSA))).toBe(Code.UNAUTHENTICATED);
    // The gRPC health service answers without a client certificate (the CLI's health check as the probe).
    const probe = await iris(["health", "--address", address, "--tls-ca", k.paths.serverCert]).exit;
    expect([probe.code, probe.stderr]).toEqual([0, ""]);

    const port = t.server.httpPort!;
    expect(await httpsStatus(port, "/v2/models/iris-logreg", { ca: k.serverCert, cert: k.client.cert, key: k.client.key })).toBe(200);
    expect(await httpsStatus(port, "/v2/models/iris-logreg", { ca: k.serverCert })).toBe(401);
    expect(await httpsStatus(port, "/v2/models/iris-logreg", { ca: k.serverCert, cert: k.rogue.cert, key: k.rogue.key })).toBe(401);
    expect(await httpsStatus(port, "/v2/health/ready", { ca: k.serverCert })).toBe(200);

    const access = logged.lines.filter((l) => l.msg === "access");
    const served = access.filter((l) => l.client !== undefined);
    expect(served.map((l) => [l.api, l.client])).toEqual([
      ["grpc", "O=Iris Ops, CN=batch-job"],
      ["http", "O=Iris Ops, CN=batch-job"],
    ]);
  });

  it("iris serve --tls-client-ca, and iris predict --remote with and without --tls-cert/--tls-key", async () => {
    const dir = await tempDir();
    const k = await pki(dir);
    const m = await modelFile();
    servers.defer(m.cleanup);
    const server = iris([
      "serve", "--host", "127.0.0.1", "--port", "0", "--http-port", "off", "--model", m.path,
      "--tls-cert", k.paths.serverCert, "--tls-key", k.paths.serverKey, "--tls-client-ca", k.paths.ca,
    ]);
    const serving = await server.line((l) => l.msg === "serving");
    expect(serving.auth).toEqual({ tokens: false, clientCertificates: true });
    const remote = `localhost:${serving.port as number}`;
    const input = ["--input", "[5.1,3.5,1.4,0.2]", "--tls-ca", k.paths.serverCert];
    const refused = await iris(["predict", "--remote", remote, ...input]).exit;
    expect([refused.code, refused.stderr]).toEqual([
      1,
      `iris predict: ${remote}: UNAUTHENTICATED: this server requires a client certificate signed by its client CA (mutual TLS)\n`,
    ]);
    const answered = await iris(["predict", "--remote", remote, ...input, "--tls-cert", k.paths.clientCert, "--tls-key", k.paths.clientKey]).exit;
    expect(answered.code, answered.stderr).toBe(0);
    server.child.kill("SIGTERM");
    expect((await server.exit).code).toBe(0);
  });
});

/**
 * TLS end to end, with throw-away self-signed certificates from openssl:
 * the server's certificate and key checked before anything listens
 * (loadServerTls, and `iris serve --tls-cert/--tls-key` as a process), and
 * the client commands' --tls / --tls-ca / --tls-server-name.
 */
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientTransport } from "../src/cli/client-tls.js";
import { info } from "../src/cli/commands/info.js";
import { Code, createIrisClient, IrisError } from "../src/client/index.js";
import { loadServerTls } from "../src/server/tls.js";
import { SETOSA } from "./support/flowers.js";
import { modelFile, selfSignedCertificate } from "./support/service-fixtures.js";
import { useServer } from "./support/use-servers.js";

const repo = fileURLToPath(new URL("../", import.meta.url));

let dir: string;
let a: Awaited<ReturnType<typeof selfSignedCertificate>>;
let b: Awaited<ReturnType<typeof selfSignedCertificate>>;
let modelPath: string;
let cleanupModel: () => Promise<void>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "iris-tls-"));
  [a, b] = await Promise.all([selfSignedCertificate(dir, "a-"), selfSignedCertificate(dir, "b-")]);
  ({ path: modelPath, cleanup: cleanupModel } = await modelFile());
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await cleanupModel();
});

/** Runs `iris <args>` to completion. */
function run(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { cwd: repo, env: { ...process.env, IRIS_HTTP_PORT: "0" } }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

/** Rejection of `promise` as an IrisError. */
async function failure(promise: Promise<unknown>): Promise<IrisError> {
  const err = await promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(IrisError);
  return err as IrisError;
}

describe("loadServerTls", () => {
  it("accepts a certificate with its key and describes it", async () => {
    const tls = await loadServerTls(a.certPath, a.keyPath);
    expect(tls.certificate).toMatchObject({ subject: "CN=localhost", subjectAltName: "DNS:localhost, IP Address:127.0.0.1" });
    expect(tls.certificate.validTo.getTime()).toBeGreaterThan(Date.now());
  });

  it("names the file and the problem: missing, not PEM, damaged, encrypted, or another certificate's key", async () => {
    const garbage = join(dir, "garbage.pem");
    await writeFile(garbage, "not a certificate\n");
    const damaged = join(dir, "damaged.pem");
    const pem = await readFile(a.certPath, "utf8");
    const lines = pem.split("\n");
    lines[2] = `!!!!${lines[2]!.slice(4)}`;
    await writeFile(damaged, lines.join("\n"));
    const encrypted = join(dir, "encrypted-key.pem");
    await promisify(execFile)("openssl", ["pkey", "-in", a.keyPath, "-aes256", "-passout", "pass:secret", "-out", encrypted]);

    // Each case starts only when awaited: a rejection created early and awaited
    // later would count as unhandled in the meantime.
    const cases: [() => Promise<unknown>, Code, string | RegExp][] = [
      [() => loadServerTls(join(dir, "none.pem"), a.keyPath), Code.NOT_FOUND, `${join(dir, "none.pem")}: TLS certificate file not found`],
      [() => loadServerTls(a.certPath, join(dir, "none.pem")), Code.NOT_FOUND, `${join(dir, "none.pem")}: TLS key file not found`],
      [() => loadServerTls(garbage, a.keyPath), Code.FAILED_PRECONDITION, `${garbage}: not a PEM certificate (no "BEGIN CERTIFICATE" block)`],
      [() => loadServerTls(damaged, a.keyPath), Code.FAILED_PRECONDITION, /^.*damaged\.pem: certificate 1 does not parse: .+/],
      [() => loadServerTls(a.certPath, garbage), Code.FAILED_PRECONDITION, /^.*garbage\.pem: not a PEM private key \(.+\)$/],
      [() => loadServerTls(a.certPath, encrypted), Code.FAILED_PRECONDITION, `${encrypted}: it is encrypted; give an unencrypted key`],
      [
        () => loadServerTls(a.certPath, b.keyPath),
        Code.FAILED_PRECONDITION,
        `${b.keyPath}: this private key does not belong to the certificate in ${a.certPath} (CN=localhost)`,
      ],
    ];
    for (const [start, code, message] of cases) {
      const err = await failure(start());
      expect(err.code).toBe(code);
      if (typeof message === "string") expect(err.message).toBe(message);
      else expect(err.message).toMatch(message);
    }
  });
});

describe("client TLS flags", () => {
  it("are plaintext when absent, and check the CA file and the server name", async () => {
    expect((await clientTransport({})).credentials._isSecure()).toBe(false);
    expect((await clientTransport({ tls: true })).credentials._isSecure()).toBe(true);
    const named = await clientTransport({ "tls-ca": a.certPath, "tls-server-name": "localhost" });
    expect(named.credentials._isSecure()).toBe(true);
    expect(named.channelOptions["grpc.ssl_target_name_override"]).toBe("localhost");

    const missing = await failure(clientTransport({ "tls-ca": join(dir, "none.pem") }));
    expect([missing.code, missing.message]).toEqual([Code.INVALID_ARGUMENT, `--tls-ca ${join(dir, "none.pem")}: file not found`]);
    const notPem = await failure(clientTransport({ "tls-ca": a.keyPath }));
    expect(notPem.message).toBe(`--tls-ca ${a.keyPath}: not a PEM certificate`);
    const badName = await failure(clientTransport({ tls: true, "tls-server-name": "a b" }));
    expect(badName.message).toBe('--tls-server-name must be a host name, got "a b"');
  });
});

describe("a TLS server and the client commands", () => {
  const tlsServer = useServer(async () => ({ tls: await loadServerTls(a.certPath, a.keyPath) }));

  it("iris health and iris predict --remote reach it with --tls-ca; plaintext does not", async () => {
    const port = tlsServer().server.port;
    const [health, predict, local, plaintext] = await Promise.all([
      run("health", "--address", `localhost:${port}`, "--tls-ca", a.certPath),
      run("predict", "--remote", `127.0.0.1:${port}`, "--tls-ca", a.certPath, "--input", "[5.1,3.5,1.4,0.2]"),
      run("predict", "--model", modelPath, "--input", "[5.1,3.5,1.4,0.2]", "--tls"),
      run("health", "--address", `localhost:${port}`),
    ]);
    expect([health.code, health.stdout, health.stderr]).toEqual([0, `SERVING (server at localhost:${port})\n`, ""]);
    expect(predict.code, predict.stderr).toBe(0);
    expect(JSON.parse(predict.stdout)).toMatchObject({ prediction: [0], species: ["setosa"] });
    expect([local.code, local.stderr]).toEqual([2, "iris predict: --tls, --tls-ca, --tls-server-name, --tls-cert and --tls-key apply only with --remote\n"]);
    expect(plaintext.code).toBe(1);
    expect(plaintext.stderr).toMatch(new RegExp(`^iris health: localhost:${port}: unreachable`));
  });

  it("iris info --remote checks the name in the certificate", async () => {
    let stdout = "";
    const io = {
      stdout: new Writable({ write: (chunk: Buffer, _enc, done) => ((stdout += chunk.toString()), done()) }),
      stderr: new Writable({ write: (_chunk, _enc, done) => done() }),
    };
    const address = `127.0.0.1:${tlsServer().server.port}`;
    expect(await info.run(["--remote", address, "--tls-ca", a.certPath], io)).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ version: tlsServer().holder.current!.model.version });
    const wrongName = await failure(
      info.run(["--remote", address, "--tls-ca", a.certPath, "--tls-server-name", "iris.example.com", "--timeout-ms", "5000"], io),
    );
    expect(wrongName.code).toBe(Code.UNAVAILABLE);
    expect(wrongName.message).toMatch(new RegExp(`^${address}: UNAVAILABLE: `));
  });
});

describe("iris serve --tls-cert --tls-key", () => {
  it("serves TLS, says so in its start line, and stops on SIGTERM", async () => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "serve", "--host", "127.0.0.1", "--port", "0", "--model", modelPath],
      { cwd: repo, env: { ...process.env, IRIS_HTTP_PORT: "0", IRIS_TLS_CERT: a.certPath, IRIS_TLS_KEY: a.keyPath } },
    );
    const exited = once(child, "close");
    try {
      const lines = createInterface({ input: child.stdout });
      let serving: Record<string, unknown> | undefined;
      for await (const text of lines) {
        const line = JSON.parse(text) as Record<string, unknown>;
        if (line.msg === "serving") {
          serving = line;
          break;
        }
      }
      expect(serving!.tls).toEqual({
        cert: a.certPath,
        subject: "CN=localhost",
        subjectAltName: "DNS:localhost, IP Address:127.0.0.1",
        validTo: expect.any(String),
      });
      const port = serving!.port as number;
      const iris = createIrisClient(`localhost:${port}`, { credentials: { tls: { rootCerts: a.cert } } });
      try {
        expect((await iris.predict(SETOSA)).species).toBe("setosa");
      } finally {
        iris.close();
      }
      child.kill("SIGTERM");
      expect((await exited)[0]).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });

  it("refuses to start when the key is not the certificate's (exit 1) or one of the pair is missing (exit 2)", async () => {
    const [mismatch, alone] = await Promise.all([
      run("serve", "--port", "0", "--model", modelPath, "--tls-cert", a.certPath, "--tls-key", b.keyPath),
      run("serve", "--port", "0", "--model", modelPath, "--tls-cert", a.certPath),
    ]);
    expect([mismatch.code, mismatch.stdout, mismatch.stderr]).toEqual([
      1,
      "",
      `iris serve: ${b.keyPath}: this private key does not belong to the certificate in ${a.certPath} (CN=localhost)\n`,
    ]);
    expect([alone.code, alone.stdout, alone.stderr]).toEqual([
      2,
      "",
      "iris serve: --tls-cert needs --tls-key (IRIS_TLS_KEY) too: TLS takes a certificate and its private key\n",
    ]);
  });
});

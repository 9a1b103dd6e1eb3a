/**
 * The two packages as users install them. In a fresh copy of the project
 * (no dist/), `npm pack` builds and packs `iris-serve` and
 * `@iris-serve/client`; the tarballs are installed OFFLINE into fresh
 * projects, from the npm cache that `npm ci` filled (each dependency is
 * given as the registry tarball of the version package-lock.json locks, so
 * npm resolves the tree from the packages' own manifests without fetching
 * anything). Then, against the installed `iris serve` on port 0:
 *   - the SDK package: what it installs, consumers type-checked by the
 *     project's TypeScript under `module: NodeNext` (ESM and CommonJS) and
 *     `moduleResolution: Bundler`, and run as an ES module and as CommonJS;
 *   - the iris-serve package: the installed `iris` (--version, predict and
 *     info from a directory without a model, serve with the model it ships).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModelFile } from "../src/model/index.js";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const TSC = join(REPO, "node_modules/typescript/bin/tsc");
const SETUP_TIMEOUT_MS = 300_000;
const TEST_TIMEOUT_MS = 120_000;
/** What the SDK must never bring along: the server's dependencies. */
const SERVER_ONLY = ["pino", "ml-matrix", "csv-parse", "grpc-health-check", "@grpc/reflection"];

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment for child processes, without what `npm test` exports about this project. */
const childEnv = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !/^npm_(package_|lifecycle_|command$|config_local_prefix$)/i.test(key)),
);

function run(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env: { ...childEnv, ...env }, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

/** Runs a command that must succeed; its output otherwise says why it did not. */
async function ok(file: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await run(file, args, cwd, env);
  if (r.code !== 0) throw new Error(`${file} ${args.join(" ")} (in ${cwd}) exited ${r.code}\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

// ---- package-lock.json: the locked versions of a dependency closure ---------

interface LockEntry {
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}
type Lock = { packages: Record<string, LockEntry> };

/** Where Node would find `name` from the package installed at `from` ("" = the project). */
function locate(lock: Lock, from: string, name: string): string {
  for (let base = from; ; ) {
    const path = `${base === "" ? "" : `${base}/`}node_modules/${name}`;
    if (lock.packages[path]) return path;
    if (base === "") throw new Error(`package-lock.json has no ${name} reachable from ${from || "the project"}`);
    const i = base.lastIndexOf("/node_modules/");
    base = i === -1 ? "" : base.slice(0, i);
  }
}

/** The lock paths of `names` and everything they need (dependencies, optional ones, required peers). */
function lockClosure(lock: Lock, names: readonly string[]): string[] {
  const seen = new Set<string>();
  const queue = names.map((name) => locate(lock, "", name));
  while (queue.length > 0) {
    const path = queue.shift()!;
    if (seen.has(path)) continue;
    seen.add(path);
    const e = lock.packages[path]!;
    const peers = Object.keys(e.peerDependencies ?? {}).filter((n) => !e.peerDependenciesMeta?.[n]?.optional);
    for (const dep of [...Object.keys(e.dependencies ?? {}), ...Object.keys(e.optionalDependencies ?? {}), ...peers]) {
      queue.push(locate(lock, path, dep));
    }
  }
  return [...seen];
}

const nameOf = (lockPath: string): string => lockPath.slice(lockPath.lastIndexOf("node_modules/") + "node_modules/".length);

/**
 * npm `overrides` pinning every package of the closure to its locked
 * version's registry tarball (a URL npm finds in its cache), nested under
 * the package it is installed below when it is not hoisted.
 */
function tarballOverrides(lock: Lock, paths: readonly string[], registry: string, skip: readonly string[]) {
  const tarball = (path: string) => {
    const name = nameOf(path);
    return `${registry}${name}/-/${name.split("/").pop()}-${lock.packages[path]!.version}.tgz`;
  };
  type Overrides = { [name: string]: string | Overrides };
  const overrides: Overrides = {};
  for (const path of paths) {
    const chain = path.split(/(?:^|\/)node_modules\//).filter((part) => part !== "");
    if (chain.length === 1 && skip.includes(chain[0]!)) continue;
    let at = overrides;
    for (const parent of chain.slice(0, -1)) {
      const existing = at[parent];
      at = at[parent] = typeof existing === "object" ? existing : existing === undefined ? {} : { ".": existing };
    }
    const name = chain.at(-1)!;
    const existing = at[name];
    if (typeof existing === "object") existing["."] = tarball(path);
    else at[name] = tarball(path);
  }
  return { overrides, tarball };
}

/** The packages npm installed into a project, by name, from its package-lock.json. */
async function installed(project: string): Promise<string[]> {
  const lock = JSON.parse(await readFile(join(project, "package-lock.json"), "utf8")) as Lock;
  return [...new Set(Object.keys(lock.packages).filter((p) => p !== "").map(nameOf))].sort();
}

// ---- the consumers ------------------------------------------------------------

/** Type-only checks, compiled under every module setting: what the SDK's types take and refuse. */
const TYPES_TS = `
import { credentials, ServerCredentials } from "@grpc/grpc-js";
import { createIrisClient, type GrpcChannelCredentials, type IrisClientOptions } from "@iris-serve/client";

// The application's own grpc-js credentials are accepted, by shape.
export const accepted: IrisClientOptions[] = [
  {},
  { credentials: "insecure" },
  { credentials: { tls: {} } },
  { credentials: { tls: { rootCerts: Buffer.from("") } } },
  { credentials: credentials.createInsecure() },
  { credentials: credentials.createSsl() },
  { credentials: credentials.createSsl(null, null, null, { checkServerIdentity: () => undefined }) },
];
export const structural: GrpcChannelCredentials = credentials.createInsecure();

export function refused(): void {
  // @ts-expect-error credentials are "insecure", { tls }, or grpc-js channel credentials
  createIrisClient("localhost:50051", { credentials: "tls" });
  // @ts-expect-error the credentials factory is not credentials
  createIrisClient("localhost:50051", { credentials });
  // @ts-expect-error server credentials are not channel credentials
  createIrisClient("localhost:50051", { credentials: ServerCredentials.createInsecure() });
  // @ts-expect-error certificates are Buffers of PEM, not strings
  createIrisClient("localhost:50051", { credentials: { tls: { rootCerts: "-----BEGIN CERTIFICATE-----" } } });
  // @ts-expect-error an object that only looks secure is not credentials
  createIrisClient("localhost:50051", { credentials: { _isSecure: () => true } });
}
`;

/** The consumer's calls, the same for both module formats; prints one JSON line. */
const CALLS = `
  const address = process.argv[2]!;
  const flower = { sepalLength: 5.1, sepalWidth: 3.5, petalLength: 1.4, petalWidth: 0.2 };
  const out: Record<string, unknown> = {};
  const predictWith = async (key: string, options: IrisClientOptions) => {
    const client = createIrisClient(address, options);
    try {
      out[key] = await client.predict(flower);
    } finally {
      client.close();
    }
  };
  await predictWith("plain", {});
  await predictWith("ownInsecure", { credentials: credentials.createInsecure() });
  await predictWith("otherInsecure", { credentials: other.credentials.createInsecure() });
  const refusal = (options: unknown) => {
    try {
      createIrisClient(address, options as IrisClientOptions).close();
      return "accepted";
    } catch (err) {
      return { irisError: err instanceof IrisError, code: (err as IrisError).code, message: (err as Error).message };
    }
  };
  out.otherSsl = refusal({ credentials: other.credentials.createSsl() });
  // What plain JavaScript could pass.
  out.notCredentials = refusal({ credentials: { secure: true } });
  const client = createIrisClient(address, { deadlineMs: 20_000 });
  try {
    out.info = { version: (await client.modelInfo()).version };
    out.batch = await client.batchPredict([flower, { sepalLength: 6.7, sepalWidth: 3.0, petalLength: 5.2, petalWidth: 2.3 }]);
    try {
      await client.predict({ ...flower, petalWidth: -0.2 });
      out.invalid = "accepted";
    } catch (err) {
      if (!(err instanceof IrisError)) throw err;
      out.invalid = { code: err.code, expected: Code.INVALID_ARGUMENT, violations: err.violations };
    }
  } finally {
    client.close();
  }
  console.log(JSON.stringify(out));
`;

const ESM_CONSUMER = `
import { createRequire } from "node:module";
import { credentials } from "@grpc/grpc-js";
import { Code, createIrisClient, IrisError, type IrisClientOptions } from "@iris-serve/client";

// Another copy of grpc-js, as a second library of the application might bring.
const other = createRequire(new URL("../other/index.js", import.meta.url))("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
${CALLS}
`;

const CJS_CONSUMER = `
import { credentials } from "@grpc/grpc-js";
import { Code, createIrisClient, IrisError, type IrisClientOptions } from "@iris-serve/client";
import { join } from "node:path";

const other = require(join(__dirname, "../other/node_modules/@grpc/grpc-js")) as typeof import("@grpc/grpc-js");
async function main(): Promise<void> {
${CALLS}
}
main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
`;

const STRICT = { strict: true, skipLibCheck: false, types: ["node"], target: "ES2022", lib: ["ES2022"], noEmitOnError: true };
const NODENEXT_TSCONFIG = {
  compilerOptions: { ...STRICT, module: "NodeNext", moduleResolution: "NodeNext", outDir: "out", rootDir: "src" },
  files: ["src/consumer.mts", "src/consumer.cts", "src/types.ts"],
};
// The declarations themselves are checked once, under NodeNext.
const BUNDLER_TSCONFIG = {
  compilerOptions: { ...STRICT, skipLibCheck: true, module: "ESNext", moduleResolution: "Bundler", noEmit: true },
  files: ["src/consumer.mts", "src/types.ts"],
};

interface ConsumerOutput {
  plain: { species: string; classIndex: number; probabilities: number[]; modelVersion: string };
  ownInsecure: ConsumerOutput["plain"];
  otherInsecure: ConsumerOutput["plain"];
  otherSsl: unknown;
  notCredentials: unknown;
  info: { version: string };
  batch: { predictions: { species: string }[] };
  invalid: { code: number; expected: number; violations: unknown[] };
}

// ---- set-up: copy, pack, install, serve ----------------------------------------

let work: string;
let sdkProject: string;
let cliProject: string;
let emptyDir: string;
let rootLock: Lock;
let rootPackage: { version: string; engines: { node: string } };
let packed: { root: string[]; client: string[] };
let server: ChildProcess | undefined;
let serving: { port: number; model: { path: string; version: string } };
let serverExit: Promise<number | null>;
let consumersBuilt: Promise<{ nodeNext: Result; bundler: Result }>;

/** Starts the installed `iris serve` on 127.0.0.1:0 in `cwd`; resolves with its "serving" log line. */
function startInstalledServer(cwd: string): Promise<typeof serving> {
  const child = spawn(join(cliProject, "node_modules/.bin/iris"), ["serve", "--host", "127.0.0.1", "--port", "0", "--http-port", "off"], {
    cwd,
    env: childEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  server = child;
  serverExit = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      for (const line of out.split("\n")) {
        if (line.includes('"msg":"serving"')) resolve(JSON.parse(line) as typeof serving);
      }
    });
    child.on("exit", (code) => reject(new Error(`iris serve exited ${code} before serving\n${err}\n${out}`)));
  });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "iris-packaging-"));
  rootLock = JSON.parse(await readFile(join(REPO, "package-lock.json"), "utf8")) as Lock;
  rootPackage = JSON.parse(await readFile(join(REPO, "package.json"), "utf8")) as typeof rootPackage;

  // A fresh copy of the project: sources only (what a clone has), with this checkout's node_modules.
  const copy = join(work, "project");
  const skipped = new Set(["node_modules", ".git", "dist", "coverage", ".tmp"]);
  await cp(REPO, copy, {
    recursive: true,
    filter: (source) => {
      const rel = relative(REPO, source);
      return !rel.split(sep).some((part) => skipped.has(part)) && rel !== join("packages", "client", "LICENSE");
    },
  });
  await symlink(join(REPO, "node_modules"), join(copy, "node_modules"), "dir");
  const base = (await ok("npm", ["config", "get", "registry"], copy)).trim().replace(/\/?$/, "/");
  sdkProject = join(work, "sdk-consumer");
  cliProject = join(work, "cli-consumer");
  emptyDir = join(work, "empty");
  await Promise.all([mkdir(join(sdkProject, "src"), { recursive: true }), mkdir(cliProject), mkdir(emptyDir)]);
  const install = ["install", "--offline", "--no-audit", "--no-fund"];
  const pack = async (...workspace: string[]) => {
    const json = await ok("npm", ["pack", "--json", "--pack-destination", work, ...workspace], copy);
    return (JSON.parse(json) as { files: { path: string }[]; filename: string }[])[0]!;
  };

  // Each package goes its own way, side by side: pack, install into a fresh project, use.
  const sdkReady = (async () => {
    const tarball = await pack("--workspace", "@iris-serve/client");
    const pins = tarballOverrides(rootLock, lockClosure(rootLock, ["@grpc/grpc-js", "@bufbuild/protobuf"]), base, ["@grpc/grpc-js"]);
    const manifest = {
      name: "sdk-consumer",
      version: "1.0.0",
      private: true,
      // The application's own grpc-js, which the SDK's peer dependency takes.
      dependencies: {
        "@iris-serve/client": `file:../${tarball.filename}`,
        "@grpc/grpc-js": pins.tarball(locate(rootLock, "", "@grpc/grpc-js")),
      },
      overrides: pins.overrides,
    };
    await writeFile(join(sdkProject, "package.json"), JSON.stringify(manifest));
    await ok("npm", install, sdkProject);
    // The consumer sources, and a second copy of grpc-js beside the application's.
    await Promise.all([
      writeFile(join(sdkProject, "src/types.ts"), TYPES_TS),
      writeFile(join(sdkProject, "src/consumer.mts"), ESM_CONSUMER),
      writeFile(join(sdkProject, "src/consumer.cts"), CJS_CONSUMER),
      writeFile(join(sdkProject, "tsconfig.nodenext.json"), JSON.stringify(NODENEXT_TSCONFIG)),
      writeFile(join(sdkProject, "tsconfig.bundler.json"), JSON.stringify(BUNDLER_TSCONFIG)),
      cp(join(sdkProject, "node_modules/@grpc/grpc-js"), join(sdkProject, "other/node_modules/@grpc/grpc-js"), { recursive: true }),
    ]);
    consumersBuilt = Promise.all([
      run(process.execPath, [TSC, "-p", "tsconfig.nodenext.json"], sdkProject),
      run(process.execPath, [TSC, "-p", "tsconfig.bundler.json"], sdkProject),
    ]).then(([nodeNext, bundler]) => ({ nodeNext, bundler }));
    return tarball.files.map((f) => f.path);
  })();
  const cliReady = (async () => {
    const tarball = await pack();
    const dependencies = Object.keys((rootLock.packages[""] as unknown as { dependencies: Record<string, string> }).dependencies);
    const pins = tarballOverrides(rootLock, lockClosure(rootLock, dependencies), base, []);
    const manifest = {
      name: "cli-consumer",
      version: "1.0.0",
      private: true,
      dependencies: { "iris-serve": `file:../${tarball.filename}` },
      overrides: pins.overrides,
    };
    await writeFile(join(cliProject, "package.json"), JSON.stringify(manifest));
    await ok("npm", install, cliProject);
    serving = await startInstalledServer(emptyDir);
    return tarball.files.map((f) => f.path);
  })();
  const [client, root] = await Promise.all([sdkReady, cliReady]);
  packed = { root, client };
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  if (server?.exitCode === null) {
    server.kill("SIGTERM");
    await serverExit;
  }
  await consumersBuilt?.catch(() => undefined);
  if (work) await rm(work, { recursive: true, force: true });
}, SETUP_TIMEOUT_MS);

// ---- the SDK package ---------------------------------------------------------------

describe("@iris-serve/client, packed and installed", { timeout: TEST_TIMEOUT_MS }, () => {
  it("packs the ES module and CommonJS builds with their types, the licence and nothing else", () => {
    for (const file of [
      "package.json",
      "LICENSE",
      "README.md",
      "dist/esm/client/index.js",
      "dist/esm/client/index.d.ts",
      "dist/cjs/client/index.js",
      "dist/cjs/client/index.d.ts",
      "dist/cjs/package.json",
    ]) {
      expect(packed.client, file).toContain(file);
    }
    for (const file of packed.client) expect(file).toMatch(/^(package\.json|LICENSE|README\.md|dist\/(esm|cjs)\/.+\.(js|d\.ts|json))$/);
  });

  it("installs only the SDK, the protobuf runtime and grpc-js with what grpc-js needs", async () => {
    const names = await installed(sdkProject);
    const expected = [
      "@iris-serve/client",
      ...lockClosure(rootLock, ["@grpc/grpc-js", "@bufbuild/protobuf"]).map(nameOf),
    ];
    expect(names).toEqual([...new Set(expected)].sort());
    for (const name of SERVER_ONLY) expect(names).not.toContain(name);
    // iris-serve itself, which SDK users installed before, brings all of these.
    const full = await installed(cliProject);
    for (const name of SERVER_ONLY) expect(full).toContain(name);
    expect(full.length).toBeGreaterThan(names.length);
  });

  it("type-checks a strict consumer under module NodeNext (ESM and CommonJS) and moduleResolution Bundler", async () => {
    const { nodeNext, bundler } = await consumersBuilt;
    expect(nodeNext.stdout + nodeNext.stderr).toBe("");
    expect(nodeNext.code).toBe(0);
    expect(bundler.stdout + bundler.stderr).toBe("");
    expect(bundler.code).toBe(0);
  });

  it.each([
    ["an ES module (import)", "out/consumer.mjs", []],
    // Without require(esm): CommonJS consumers on any Node 20 get the CommonJS build.
    ["CommonJS (require), without require() of ES modules", "out/consumer.cjs", ["--no-experimental-require-module"]],
  ])("runs as %s against the installed server", async (_label, script, flags) => {
    expect((await consumersBuilt).nodeNext.code).toBe(0);
    const r = await run(process.execPath, [...flags, script, `127.0.0.1:${serving.port}`], sdkProject);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as ConsumerOutput;
    const model = await loadModelFile(join(REPO, "artifacts/model.json"));
    const setosa = model.predict([5.1, 3.5, 1.4, 0.2]);
    for (const key of ["plain", "ownInsecure", "otherInsecure"] as const) {
      expect(out[key], key).toMatchObject({ species: "setosa", classIndex: 0, modelVersion: model.version });
      out[key].probabilities.forEach((p, k) => expect(p).toBeCloseTo(setosa.probabilities[k]!, 12));
    }
    expect(out.otherSsl).toEqual({
      irisError: true,
      code: 3,
      message: expect.stringContaining("TLS credentials were made by another copy of @grpc/grpc-js"),
    });
    expect(out.notCredentials).toEqual({
      irisError: true,
      code: 3,
      message: 'credentials must be "insecure", { tls: {...} } or @grpc/grpc-js channel credentials, got an object with keys ["secure"]',
    });
    expect(out.info).toEqual({ version: model.version });
    expect(out.batch.predictions.map((p) => p.species)).toEqual(["setosa", "virginica"]);
    expect(out.invalid.code).toBe(out.invalid.expected);
    expect(out.invalid.violations).toEqual([{ field: "flower.petal_width", description: expect.stringContaining(">= 0") }]);
  });
});

// ---- the iris-serve package -----------------------------------------------------------

describe("iris-serve, packed and installed", { timeout: TEST_TIMEOUT_MS }, () => {
  it("packs dist/, the model, the contract and the licence; no sources, tests or build state", async () => {
    for (const file of ["package.json", "LICENSE", "README.md", "dist/cli/main.js", "dist/client/index.js", "dist/client/index.d.ts"]) {
      expect(packed.root, file).toContain(file);
    }
    expect(packed.root).toEqual(expect.arrayContaining(["artifacts/model.json", "proto/iris.proto"]));
    for (const file of packed.root) expect(file).toMatch(/^(package\.json|LICENSE|README\.md|dist\/.+|artifacts\/.+|proto\/.+)$/);
    expect(packed.root.filter((f) => f.includes("tsbuildinfo"))).toEqual([]);
    const license = await readFile(join(cliProject, "node_modules/iris-serve/LICENSE"), "utf8");
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) 2026 the iris-serve authors\n/);
    expect(await readFile(join(sdkProject, "node_modules/@iris-serve/client/LICENSE"), "utf8")).toBe(license);
  });

  it("iris --version and -V print the package version", async () => {
    const iris = join(cliProject, "node_modules/.bin/iris");
    const [long, short] = await Promise.all([run(iris, ["--version"], emptyDir), run(iris, ["-V"], emptyDir)]);
    expect(long).toEqual({ code: 0, stdout: `${rootPackage.version}\n`, stderr: "" });
    expect(short).toEqual(long);
  });

  it("iris predict and iris info, run where there is no model, use the model the package ships", async () => {
    const iris = join(cliProject, "node_modules/.bin/iris");
    const shipped = join(cliProject, "node_modules/iris-serve/artifacts/model.json");
    const [predicted, info] = await Promise.all([
      run(iris, ["predict", "--input", "[5.1,3.5,1.4,0.2]"], emptyDir),
      run(iris, ["info"], emptyDir),
    ]);
    const model = await loadModelFile(join(REPO, "artifacts/model.json"));
    expect(predicted.stderr).toBe("");
    const line = JSON.parse(predicted.stdout) as { prediction: number[]; species: string[]; probabilities: number[][]; model: string };
    expect(line).toMatchObject({ prediction: [0], species: ["setosa"], model: model.version });
    line.probabilities[0]!.forEach((p, k) => expect(p).toBeCloseTo(model.predict([5.1, 3.5, 1.4, 0.2]).probabilities[k]!, 12));
    expect(info.code, info.stderr).toBe(0);
    expect(info.stderr).toBe(`iris info: model file ${shipped}\n`);
    expect(JSON.parse(info.stdout)).toMatchObject({ version: model.version });
    expect(serving.model).toMatchObject({ path: shipped, version: model.version });
  });

  it("the SDK it ships imports and requires (require() of ES modules: Node 20.19+, 22.12+, as engines says)", async () => {
    const script = (how: string) =>
      `${how}.then((m) => m.createIrisClient("127.0.0.1:${serving.port}")).then(async (c) => { console.log((await c.modelInfo()).version); c.close(); })`;
    const [imported, required, withoutRequireEsm] = await Promise.all([
      run(process.execPath, ["--input-type=module", "-e", script('import("iris-serve/client")')], cliProject),
      run(process.execPath, ["-e", script('Promise.resolve(require("iris-serve/client"))')], cliProject),
      run(process.execPath, ["--no-experimental-require-module", "-e", 'require("iris-serve/client")'], cliProject),
    ]);
    expect(imported).toMatchObject({ code: 0, stdout: `${serving.model.version}\n` });
    expect(required).toMatchObject({ code: 0, stdout: `${serving.model.version}\n` });
    // The package is ES modules only: older Nodes, which cannot require() them, are outside its engines range.
    expect(withoutRequireEsm.code).not.toBe(0);
    expect(withoutRequireEsm.stderr).toContain("ERR_REQUIRE_ESM");
    expect(rootPackage.engines.node).not.toMatch(/^>=\s*20(\.0)*$/);
  });
});

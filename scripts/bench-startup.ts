/**
 * Cold start benchmark (`npm run bench:startup`, which builds dist/ first):
 * the time from spawning `iris serve` (gRPC and HTTP ports on) to the first
 * grpc.health.v1 Check that answers SERVING, against the time Node takes
 * to start and import @grpc/grpc-js alone (`node -e
 * "import('@grpc/grpc-js')"`, spawn to exit). Runs alternate between the
 * two, each pinned to CPU 0 when taskset is there, and the report gives the
 * medians and their ratio. Scale-to-zero platforms (KServe on Knative)
 * start a pod for the first request: this is latency a caller sees.
 *
 * The health check is a real one, over HTTP/2 from this process (node:http2,
 * so no client library's reconnect back-off delays it): connection attempts
 * every 2 ms until the port accepts, then Check calls until one answers
 * SERVING.
 *
 *   npm run bench:startup [-- --runs 9] [-- --json results.json]
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import { connect, constants } from "node:http2";
import { createServer } from "node:net";
import { cpus } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { benchModelPath, machineLine, median, ROOT, run } from "./bench/lib.js";

const { values: flags } = parseArgs({ options: { runs: { type: "string", default: "9" }, json: { type: "string" } } });
const RUNS = Number(flags.runs);
/** The aim: serving within twice the time Node takes to import grpc-js. */
const AIM = 2;
const TIMEOUT_MS = 60_000;

const haveTaskset = await run("taskset", ["--version"]).then(
  () => true,
  () => false,
);
const pinned = (argv: string[]): string[] => (haveTaskset && cpus().length > 1 ? ["taskset", "-c", "0", ...argv] : argv);

/** A port nothing listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

/** Milliseconds from spawning `argv` to its exit (code 0). */
async function timeToExit(argv: string[]): Promise<number> {
  const [cmd, ...args] = pinned(argv);
  const started = performance.now();
  const child = spawn(cmd!, args, { cwd: ROOT, stdio: "ignore" });
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`${argv.join(" ")} exited with ${code}`);
  return performance.now() - started;
}

/** One grpc.health.v1 Check of the whole server; resolves with its status (1 = SERVING), rejects when the port does not accept. */
function check(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const session = connect(`http://127.0.0.1:${port}`);
    session.on("error", reject);
    const stream = session.request({
      [constants.HTTP2_HEADER_METHOD]: "POST",
      [constants.HTTP2_HEADER_PATH]: "/grpc.health.v1.Health/Check",
      "content-type": "application/grpc",
      te: "trailers",
    });
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", reject);
    stream.on("end", () => {
      session.close();
      // A framed HealthCheckResponse: 5-byte prefix, then field 1 (status) as a varint, absent when 0.
      const body = Buffer.concat(chunks);
      resolve(body.length >= 7 && body[5] === 0x08 ? body[6]! : 0);
    });
    // An empty HealthCheckRequest (service ""), framed.
    stream.end(Buffer.alloc(5));
  });
}

/** Milliseconds from spawning the server to a Check answering SERVING; the server is stopped after. */
async function timeToServing(model: string): Promise<number> {
  const [port, httpPort] = [await freePort(), await freePort()];
  const argv = [
    process.execPath, "dist/cli/main.js", "serve", "--host", "127.0.0.1", "--port", String(port), "--http-port", String(httpPort),
    "--model", model, "--log-level", "warn",
  ];
  const [cmd, ...args] = pinned(argv);
  const started = performance.now();
  const child = spawn(cmd!, args, { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  let exited = false;
  child.once("exit", () => (exited = true));
  try {
    for (;;) {
      if (exited) throw new Error("the server exited before serving");
      if (performance.now() - started > TIMEOUT_MS) throw new Error(`not serving after ${TIMEOUT_MS} ms`);
      const status = await check(port).catch(() => 0);
      if (status === 1) return performance.now() - started;
      await sleep(2);
    }
  } finally {
    if (!exited) {
      child.kill("SIGTERM");
      await once(child, "exit");
    }
  }
}

async function main(): Promise<void> {
  const model = await benchModelPath(ROOT);
  const grpcImport = [process.execPath, "-e", "import('@grpc/grpc-js')"];
  // Warm the file cache for both.
  await timeToExit(grpcImport);
  await timeToServing(model);
  const serving: number[] = [];
  const imports: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const pair = i % 2 === 0 ? [await timeToExit(grpcImport), await timeToServing(model)] : [await timeToServing(model), await timeToExit(grpcImport)].reverse();
    imports.push(pair[0]!);
    serving.push(pair[1]!);
    ratios.push(pair[1]! / pair[0]!);
  }
  const ratio = median(ratios);
  const report = [
    await machineLine(),
    `Medians of ${RUNS} alternating runs, each process pinned to CPU 0.`,
    "",
    "| what | median ms | min ms | max ms |",
    "|---|---|---|---|",
    `| \`node -e "import('@grpc/grpc-js')"\` (spawn to exit) | ${median(imports).toFixed(0)} | ${Math.min(...imports).toFixed(0)} | ${Math.max(...imports).toFixed(0)} |`,
    `| \`iris serve\`, gRPC and HTTP ports (spawn to a health Check answering SERVING) | ${median(serving).toFixed(0)} | ${Math.min(...serving).toFixed(0)} | ${Math.max(...serving).toFixed(0)} |`,
    "",
    `Target: start to SERVING <= ${AIM}x the grpc-js import: ${ratio <= AIM ? "met" : "NOT met"} (${ratio.toFixed(2)}x, median of the pairs' ratios).`,
    "",
  ].join("\n");
  process.stdout.write(report);
  if (flags.json) await writeFile(flags.json, JSON.stringify({ runs: RUNS, imports, serving, ratios, ratio }, null, 2));
}

await main();

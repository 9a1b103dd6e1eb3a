/**
 * Soak (`npm run soak`): `iris serve` as its own process, with the
 * Deployment's heap (--max-old-space-size=192) and limits (the defaults),
 * under a steady mix of calls for a few minutes, its RSS sampled from /proc
 * every 5 s.
 *
 *   npm run soak [-- --seconds 180] [-- --clients 16]
 *
 * Each client loops: Predict, a BatchPredict of 1 000 rows, ModelInfo, and
 * every tenth round a malformed message, a shed-prone 100 000-row batch and a
 * call it cancels. Expected errors (INVALID_ARGUMENT for the malformed one,
 * RESOURCE_EXHAUSTED when shed, CANCELLED for the cancelled one) are counted
 * apart; any other error, a server that exits, or a health check that fails
 * ends the soak with exit code 1. Printed: calls by outcome, calls/s, and RSS
 * at the start, its maximum, and at the end.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect as http2Connect } from "node:http2";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { Code, codeName } from "../src/errors.js";
import { createIrisClient, IrisError, type IrisClient } from "../src/client/index.js";

const { values } = parseArgs({ options: { seconds: { type: "string" }, clients: { type: "string" } } });
const SECONDS = Number(values.seconds ?? 180);
const CLIENTS = Number(values.clients ?? 16);

const FLOWER = { sepalLength: 5.1, sepalWidth: 3.5, petalLength: 1.4, petalWidth: 0.2 };

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

async function main(): Promise<number> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "serve", "--host", "127.0.0.1", "--port", "0", "--http-port", "off"], {
    env: { ...process.env, NODE_OPTIONS: "--max-old-space-size=192" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let exited = false;
  child.on("exit", () => (exited = true));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      try {
        const l = JSON.parse(line) as { msg?: string; port?: number };
        if (l.msg === "serving" && l.port !== undefined) resolve(l.port);
      } catch {
        // not a log line
      }
    });
    child.once("exit", (code) => reject(new Error(`iris serve exited (${code}) before serving`)));
  });
  const address = `127.0.0.1:${port}`;
  const pid = child.pid!;
  const rss = { start: rssMb(pid), max: 0, samples: [] as number[] };
  const sampler = setInterval(() => {
    if (exited) return;
    const mb = rssMb(pid);
    rss.samples.push(mb);
    rss.max = Math.max(rss.max, mb);
  }, 5_000);

  const outcomes = new Map<string, number>();
  const count = (k: string): void => void outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
  const unexpected: string[] = [];
  const expectAll = async (what: string, p: Promise<unknown>, allowed: Code[] = []): Promise<void> => {
    try {
      await p;
      count("OK");
    } catch (err) {
      const code = err instanceof IrisError ? err.code : undefined;
      if (code !== undefined && allowed.includes(code)) count(codeName(code));
      else unexpected.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };

  const batch1k = Array.from({ length: 1_000 }, () => FLOWER);
  const batch100k = Array.from({ length: 100_000 }, () => FLOWER);
  const deadline = Date.now() + SECONDS * 1000;
  const session = http2Connect(`http://${address}`);
  session.on("error", () => undefined);
  await once(session, "connect");
  const malformed = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const body = Buffer.from([0, 0, 0, 0, 3, 0x0a, 0xff, 0xff]);
      const s = session.request({ ":method": "POST", ":path": "/iris.v1.IrisService/Predict", "content-type": "application/grpc", te: "trailers" });
      s.on("trailers", (t) => {
        const status = Number(t["grpc-status"]);
        if (status === Code.INVALID_ARGUMENT) count(`malformed:${codeName(status as Code)}`);
        else reject(new Error(`malformed message answered ${status}`));
      });
      s.on("response", (h) => {
        const status = h["grpc-status"];
        if (status === undefined) return;
        if (Number(status) === Code.INVALID_ARGUMENT) count(`malformed:${codeName(Number(status) as Code)}`);
        else reject(new Error(`malformed message answered ${String(status)}`));
      });
      s.on("close", () => resolve());
      s.on("error", reject);
      s.resume();
      s.end(body);
    });

  const loop = async (client: IrisClient): Promise<void> => {
    for (let round = 0; Date.now() < deadline && !exited && unexpected.length === 0; round++) {
      await expectAll("Predict", client.predict(FLOWER), [8]);
      await expectAll("BatchPredict 1k", client.batchPredict(batch1k, { omitProbabilities: round % 2 === 0 }), [8]);
      await expectAll("ModelInfo", client.modelInfo(), [8]);
      if (round % 10 === 0) {
        await expectAll("malformed", malformed());
        await expectAll("BatchPredict 100k", client.batchPredict(batch100k, { omitProbabilities: true }), [8]);
        const abort = new AbortController();
        const cancelled = client.batchPredict(batch1k, { signal: abort.signal });
        abort.abort();
        await expectAll("cancelled", cancelled, [1]);
      }
    }
  };
  const started = performance.now();
  const clients = Array.from({ length: CLIENTS }, () => createIrisClient(address, { deadlineMs: 30_000 }));
  await Promise.all(clients.map(loop));
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  for (const c of clients) c.close();
  session.destroy();
  const end = exited ? 0 : rssMb(pid);
  child.kill("SIGTERM");
  const [code] = (await once(child, "exit")) as [number | null];

  const total = [...outcomes.values()].reduce((a, b) => a + b, 0);
  console.log(`soak: ${SECONDS} s, ${CLIENTS} clients, ${total} calls (${Math.round(total / seconds)}/s)`);
  console.log(`  outcomes: ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(", ")}`);
  console.log(`  RSS MB: start ${rss.start}, max ${rss.max}, end ${end}; samples ${rss.samples.join(" ")}`);
  console.log(`  server exit code ${code}`);
  if (unexpected.length > 0) {
    console.log(`  unexpected errors (${unexpected.length}), first: ${unexpected[0]}`);
    return 1;
  }
  return exited && code !== 0 ? 1 : 0;
}

process.exitCode = await main();

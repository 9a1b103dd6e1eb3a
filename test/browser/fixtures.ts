/**
 * Fixtures of the browser tests: real servers (the gRPC and HTTP ports of
 * startIrisServer, in this process so a test can swap the model as a hot
 * reload does) serving the committed model, and a page that fails its test
 * on any console error or uncaught exception (a Content-Security-Policy
 * violation is one). `shoot` saves a screenshot; with
 * CONSOLE_SCREENSHOTS=DIR (npm run docs:screenshots) into DIR, for the docs.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { test as base, expect, type Locator, type Page } from "@playwright/test";
import { loadModelFile, type IrisModel } from "../../src/model/index.js";
import { ModelHolder } from "../../src/server/model-holder.js";
import { startIrisServer, type IrisServer } from "../../src/server/server.js";
import { memoryLogger } from "../support/memory-logger.js";

export const MODEL_PATH = new URL("../../artifacts/model.json", import.meta.url).pathname;

export interface ConsoleServer {
  server: IrisServer;
  holder: ModelHolder;
  /** `http://127.0.0.1:PORT`, the HTTP port. */
  origin: string;
  /** `127.0.0.1:PORT`, the gRPC port. */
  grpcAddress: string;
}

export async function startConsoleServer(model?: IrisModel): Promise<ConsoleServer> {
  const holder = new ModelHolder(model ?? (await loadModelFile(MODEL_PATH)));
  const server = await startIrisServer({
    host: "127.0.0.1",
    port: 0,
    httpPort: 0,
    holder,
    logger: memoryLogger("warn").logger,
    maxBatchRows: 100_000,
    maxReceiveBytes: 8 * 1024 * 1024,
    serverVersion: "0.1.0",
  });
  return { server, holder, origin: `http://127.0.0.1:${server.httpPort}`, grpcAddress: server.address };
}

interface Fixtures {
  /** Console messages of type error and uncaught exceptions; the test fails when any were seen. */
  problems: string[];
  /** Saves a screenshot of the page or of one element, named `name.png`. */
  shoot: (name: string, target?: Page | Locator) => Promise<void>;
}

interface WorkerFixtures {
  /** One server for the worker's tests (the reload test starts its own). */
  iris: ConsoleServer;
}

export const test = base.extend<Fixtures, WorkerFixtures>({
  iris: [
    // Playwright reads a fixture's dependencies from its first parameter's pattern: none here.
    // eslint-disable-next-line no-empty-pattern
    async ({}, use) => {
      const iris = await startConsoleServer();
      await use(iris);
      await iris.server.forceShutdown();
    },
    { scope: "worker" },
  ],
  problems: [
    async ({ page }, use) => {
      const problems: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(`console error: ${message.text()}`);
      });
      page.on("pageerror", (error) => problems.push(`uncaught: ${error.message}`));
      await use(problems);
      expect(problems, "the page logged errors").toEqual([]);
    },
    { auto: true },
  ],
  shoot: async ({ page }, use, testInfo) => {
    const dir = process.env.CONSOLE_SCREENSHOTS;
    await use(async (name, target = page) => {
      const path = dir ? join(dir, `${name}.png`) : testInfo.outputPath(`${name}.png`);
      if (dir) await mkdir(dir, { recursive: true });
      await target.screenshot({ path, animations: "disabled" });
    });
  },
});

export { expect };

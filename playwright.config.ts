/**
 * The web console's browser tests (test/browser/*.test.ts): Playwright
 * drives Debian's Chromium (`apt-get install chromium`; Playwright's own
 * browser builds are downloaded from outside the npm registry, so they are
 * not used) against real servers started by the tests. `npm run
 * test:browser` bundles the console's script first. CHROMIUM names another
 * Chromium executable.
 */
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "test/browser",
  testMatch: "**/*.test.ts",
  // One worker: the machine has 2 cores, shared with the servers under test.
  workers: 1,
  fullyParallel: false,
  forbidOnly: true,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  reporter: [["list"]],
  outputDir: "test-results/browser",
  use: {
    browserName: "chromium",
    viewport: { width: 1200, height: 900 },
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      // --no-sandbox: tests run as root. The rest keeps Chromium from
      // dialling out (updates, sync, QUIC probes), which fails here.
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
});

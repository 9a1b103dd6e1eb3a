import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // test/browser holds the web console's Playwright tests (npm run test:browser).
    exclude: [...configDefaults.exclude, "test/browser/**"],
    // CLI and server tests start real processes; give them room on a busy 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});

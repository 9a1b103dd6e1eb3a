/**
 * `iris` as a real process from the repository (through tsx), its stdout
 * read as JSON log lines: call useIrisProcesses() at the top of a suite;
 * every process it starts is killed, and every deferred clean-up run,
 * after each test.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterEach } from "vitest";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

type LogLine = Record<string, unknown> & { msg?: string };

export interface IrisProcess {
  child: ChildProcessWithoutNullStreams;
  /** Every log line so far. */
  lines: LogLine[];
  /** Resolves with the first log line that matches (rejects if the process exits first). */
  line(match: (l: LogLine) => boolean): Promise<LogLine>;
  exit: Promise<{ code: number | null; stderr: string; lines: LogLine[] }>;
}

export function useIrisProcesses(): {
  /** `nodeArgs` go to node itself, before the script (V8 flags). */
  iris(args: string[], env?: Record<string, string>, nodeArgs?: string[]): IrisProcess;
  defer(cleanup: () => Promise<void>): void;
} {
  let children: ChildProcessWithoutNullStreams[] = [];
  let cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await Promise.all(cleanups.map((c) => c()));
    children = [];
    cleanups = [];
  });
  return {
    iris(args, env = {}, nodeArgs = []) {
      const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", "src/cli/main.ts", ...args], {
        cwd: REPO,
        // A free HTTP port unless the test says otherwise: 8080 may be taken on a shared machine.
        env: { ...process.env, IRIS_HTTP_PORT: "0", ...env },
      });
      children.push(child);
      const lines: LogLine[] = [];
      const watchers: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      createInterface({ input: child.stdout }).on("line", (text) => {
        let parsed: LogLine;
        try {
          parsed = JSON.parse(text) as LogLine;
        } catch {
          parsed = { text };
        }
        lines.push(parsed);
        for (const w of [...watchers]) {
          if (w.match(parsed)) {
            watchers.splice(watchers.indexOf(w), 1);
            w.resolve(parsed);
          }
        }
      });
      const exit = once(child, "close").then(([code]) => ({ code: code as number | null, stderr, lines }));
      return {
        child,
        lines,
        exit,
        line(match) {
          const seen = lines.find(match);
          if (seen) return Promise.resolve(seen);
          return new Promise((resolve, reject) => {
            watchers.push({ match, resolve });
            void exit.then(({ code }) => reject(new Error(`iris exited (${code}) before the expected line; stderr: ${stderr}`)));
          });
        },
      };
    },
    defer(cleanup) {
      cleanups.push(cleanup);
    },
  };
}

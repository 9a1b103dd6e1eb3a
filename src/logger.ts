/**
 * The one logger: pino, one JSON object per line on stdout (where container
 * runtimes collect logs), written synchronously so nothing is lost at exit.
 * Level names are spelled out (`"level":"info"`) and times are ISO 8601.
 *
 * Code that logs takes a Logger as a parameter or calls getLogger(); tests
 * pass their own (e.g. writing into an array) or call setLogger().
 */
import { pino, type DestinationStream, type Logger } from "pino";
import type { LogLevel } from "./config.js";

export type { Logger };

export interface LoggerOptions {
  level: LogLevel;
  /** Where lines go; stdout by default. */
  destination?: DestinationStream;
}

export function createLogger({ level, destination }: LoggerOptions): Logger {
  return pino(
    {
      name: "iris-serve",
      level,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

let current: Logger | undefined;

/** The process-wide logger (info level on stdout until setLogger is called). */
export function getLogger(): Logger {
  current ??= createLogger({ level: "info" });
  return current;
}

/** Replaces the process-wide logger; returns the previous one. */
export function setLogger(logger: Logger): Logger | undefined {
  const previous = current;
  current = logger;
  return previous;
}

/** A logger that writes each line, parsed, into `lines`: for tests. */
export function memoryLogger(level: LogLevel, lines: Record<string, unknown>[] = []): {
  logger: Logger;
  lines: Record<string, unknown>[];
} {
  const destination: DestinationStream = {
    write(line: string) {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  };
  return { logger: createLogger({ level, destination }), lines };
}

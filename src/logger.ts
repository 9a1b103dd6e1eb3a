/**
 * The one logger: pino, one JSON object per line on stdout (where container
 * runtimes collect logs), written synchronously so nothing is lost at exit.
 * Level names are spelled out (`"level":"info"`) and times are ISO 8601.
 *
 * Code that logs takes a Logger as a parameter, so tests can pass their own
 * (test/support/memory-logger.ts keeps the lines in an array).
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

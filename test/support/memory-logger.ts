/** A logger that keeps each line, parsed, in an array: what tests read instead of stdout. */
import type { DestinationStream } from "pino";
import type { LogLevel } from "../../src/config.js";
import { createLogger, type Logger } from "../../src/logger.js";

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

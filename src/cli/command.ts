import { parseArgs, type ParseArgsConfig } from "node:util";
import { Code, IrisError } from "../errors.js";

/** Exit codes shared by every command. */
export const ExitCode = {
  OK: 0,
  /** The command ran and failed (quality gate, server error, I/O). */
  FAILURE: 1,
  /** The command line or the input was wrong. */
  USAGE: 2,
} as const;

/** One `iris` sub-command. */
export interface Command {
  /** The word after `iris`. */
  name: string;
  /** One line for `iris --help`. */
  summary: string;
  /** The full `--help` text. */
  help: string;
  /** Runs the command; resolves to the process exit code. */
  run(argv: string[], io: CommandIo): Promise<number>;
}

/** Where a command writes; tests and the CLI pass process streams. */
export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export type OptionsConfig = NonNullable<ParseArgsConfig["options"]>;

/** What parseFlags hands to parseArgs (named, so the declaration build can name the result type). */
type FlagsConfig<T extends OptionsConfig> = {
  args: string[];
  options: T & { help: { type: "boolean"; short: string } };
  strict: true;
  allowPositionals: false;
};

/**
 * Parses a command's flags strictly (unknown flags and stray positionals are
 * usage errors). `--help` is added to every command.
 */
export function parseFlags<T extends OptionsConfig>(
  argv: string[],
  options: T,
): ReturnType<typeof parseArgs<FlagsConfig<T>>> {
  try {
    return parseArgs({
      args: argv,
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new IrisError(Code.INVALID_ARGUMENT, (err as Error).message);
  }
}

/** A usage error: exit code 2 with a one-line message. */
export function usageError(message: string): IrisError {
  return new IrisError(Code.INVALID_ARGUMENT, message);
}

/** Parses a flag as a finite number within [min, max]. */
export function numberFlag(
  name: string,
  raw: string | undefined,
  fallback: number,
  { min = -Infinity, max = Infinity, integer = false }: { min?: number; max?: number; integer?: boolean } = {},
): number {
  if (raw === undefined) return fallback;
  const value = raw.trim() === "" ? NaN : Number(raw);
  if (!Number.isFinite(value)) throw usageError(`--${name} must be a number, got "${raw}"`);
  if (integer && !Number.isInteger(value)) throw usageError(`--${name} must be a whole number, got "${raw}"`);
  if (value < min || value > max) {
    const range = max === Infinity ? `>= ${min}` : min === -Infinity ? `<= ${max}` : `between ${min} and ${max}`;
    throw usageError(`--${name} must be ${range}, got ${raw}`);
  }
  return value;
}

import { parseArgs, type ParseArgsConfig } from "node:util";
import { Code, IrisError } from "../errors.js";
import { parseDecimal } from "../model/features.js";

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

/** Where a command reads and writes; tests and the CLI pass process streams. */
export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Input for commands that read it (`iris predict --input -`); process.stdin (opened only then) when absent. */
  stdin?: NodeJS.ReadableStream;
}

export type OptionsConfig = NonNullable<ParseArgsConfig["options"]>;

/** What parseFlags hands to parseArgs (named, so the declaration build can name the result type). */
type FlagsConfig<T extends OptionsConfig> = {
  args: string[];
  options: T & { help: { type: "boolean"; short: string } };
  strict: true;
  allowPositionals: false;
};

/** A negative number given as a flag's value, e.g. the `-1` of `--c -1`. */
const NEGATIVE_NUMBER = /^-(?:\d|\.\d)/;

/**
 * Parses a command's flags strictly (unknown flags and stray positionals are
 * usage errors). `--help` is added to every command. A value-taking flag
 * followed by a negative number (`--c -1`) takes it as its value, so that the
 * range check can report it, instead of parseArgs' "ambiguous" error.
 */
export function parseFlags<T extends OptionsConfig>(
  argv: string[],
  options: T,
): ReturnType<typeof parseArgs<FlagsConfig<T>>> {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const name = arg.startsWith("--") ? arg.slice(2) : undefined;
    if (name !== undefined && options[name]?.type === "string" && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      args.push(`${arg}=${next}`);
      i++;
    } else args.push(arg);
  }
  try {
    return parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    // parseArgs' messages may span lines; the CLI prints one.
    throw new IrisError(Code.INVALID_ARGUMENT, (err as Error).message.replace(/\s*\n\s*/g, " "));
  }
}

/** A usage error: exit code 2 with a one-line message. */
export function usageError(message: string): IrisError {
  return new IrisError(Code.INVALID_ARGUMENT, message);
}

/** Parses a flag as a finite decimal number within [min, max]. */
export function numberFlag(
  name: string,
  raw: string | undefined,
  fallback: number,
  { min = -Infinity, max = Infinity, integer = false }: { min?: number; max?: number; integer?: boolean } = {},
): number {
  if (raw === undefined) return fallback;
  const text = raw.trim();
  const value = parseDecimal(text);
  if (!Number.isFinite(value)) throw usageError(`--${name} must be a number, got "${raw}"`);
  if (integer && !Number.isInteger(value)) throw usageError(`--${name} must be a whole number, got "${raw}"`);
  if (value < min || value > max) {
    const range = max === Infinity ? `>= ${min}` : min === -Infinity ? `<= ${max}` : `between ${min} and ${max}`;
    throw usageError(`--${name} must be ${range}, got ${raw}`);
  }
  return value;
}

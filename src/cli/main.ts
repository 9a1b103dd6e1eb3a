#!/usr/bin/env node
/**
 * The `iris` command: train, predict, serve, info, health.
 * Each sub-command lives in ./commands and is listed here once.
 */
import { packageVersion } from "../config.js";
import { Code, IrisError } from "../errors.js";
import { ExitCode, type CommandIo } from "./command.js";
import { commands } from "./commands/index.js";

async function topHelp(): Promise<string> {
  const loaded = await Promise.all(commands.map((c) => c.load()));
  const width = Math.max(...loaded.map((c) => c.name.length));
  const lines = loaded.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    "Usage: iris <command> [options]",
    "",
    "Commands:",
    ...lines,
    "",
    "Run `iris <command> --help` for a command's options, `iris --version` for the version.",
    "",
  ].join("\n");
}

export async function main(argv: string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    (name === undefined ? io.stderr : io.stdout).write(await topHelp());
    return name === undefined ? ExitCode.USAGE : ExitCode.OK;
  }
  if (name === "--version" || name === "-V") {
    io.stdout.write(`${packageVersion().version}\n`);
    return ExitCode.OK;
  }
  const entry = commands.find((c) => c.name === name);
  if (!entry) {
    io.stderr.write(`iris: unknown command "${name}"\n\n${await topHelp()}`);
    return ExitCode.USAGE;
  }
  const command = await entry.load();
  if (rest.includes("--help") || rest.includes("-h")) {
    io.stdout.write(command.help.endsWith("\n") ? command.help : `${command.help}\n`);
    return ExitCode.OK;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    const error = IrisError.from(err);
    const detail = error.code === Code.INTERNAL && error.cause instanceof Error ? `: ${error.cause.message}` : "";
    io.stderr.write(`iris ${command.name}: ${error.message}${detail}\n`);
    return error.code === Code.INVALID_ARGUMENT ? ExitCode.USAGE : ExitCode.FAILURE;
  }
}

// A reader that stops early (`iris predict ... | head`) is not an error of ours: end quietly.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw err;
});
const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
// Long-running commands (serve) resolve only when they are done; let stdout
// drain before the process ends.
process.exitCode = code;

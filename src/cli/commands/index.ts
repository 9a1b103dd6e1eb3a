import type { Command } from "../command.js";

/** Every `iris` sub-command, in the order `iris --help` lists them. */
export const commands: Command[] = [];

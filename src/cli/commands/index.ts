import type { Command } from "../command.js";
import { health } from "./health.js";
import { info } from "./info.js";
import { predict } from "./predict.js";
import { serve } from "./serve.js";
import { train } from "./train.js";

/** Every `iris` sub-command, in the order `iris --help` lists them. */
export const commands: Command[] = [train, predict, serve, info, health];

import type { Command } from "../command.js";

/** One `iris` sub-command, loaded only when it runs (or `iris --help` lists it): `iris serve` loads no trainer. */
interface CommandEntry {
  name: string;
  load(): Promise<Command>;
}

/** Every `iris` sub-command, in the order `iris --help` lists them. */
export const commands: readonly CommandEntry[] = [
  { name: "train", load: async () => (await import("./train.js")).train },
  { name: "predict", load: async () => (await import("./predict.js")).predict },
  {
    name: "serve",
    // node:http2's header names are made keys before anything else loads node:http2 (see the module).
    load: async () => {
      await import("../../server/http2-header-names.js");
      return (await import("./serve.js")).serve;
    },
  },
  { name: "info", load: async () => (await import("./info.js")).info },
  { name: "health", load: async () => (await import("./health.js")).health },
];

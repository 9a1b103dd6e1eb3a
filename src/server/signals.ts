/**
 * Signals: graceful stop on SIGTERM/SIGINT, model reload on SIGHUP, and
 * SIGUSR1/SIGUSR2 logged and ignored (see IgnoredSignals).
 *
 * Graceful stop on SIGTERM/SIGINT. Handlers are installed explicitly, so the
 * server also stops cleanly as PID 1 in a container (where the kernel gives
 * signals no default action), and they are installed before the server
 * starts: a signal that arrives while the model loads or the port is being
 * bound is remembered, and the server stops as soon as it is up instead of
 * the signal being lost (PID 1) or killing the process half-started. A
 * second signal cuts the grace period short.
 */
import type { Logger } from "../logger.js";
import type { IrisServer, ShutdownResult } from "./server.js";

const SHUTDOWN_SIGNALS = ["SIGTERM", "SIGINT"] as const;

type SignalProcess = Pick<NodeJS.Process, "on" | "off">;

export class ShutdownSignals {
  readonly #logger: Logger;
  readonly #proc: SignalProcess;
  readonly #exit: (code: number) => void;
  #received: NodeJS.Signals | undefined;
  #server: { server: IrisServer; graceMs: number; resolve: (r: ShutdownResult) => void } | undefined;
  #stopping: Promise<ShutdownResult> | undefined;

  /**
   * `exit` ends the process when a second signal comes before the server has
   * started (e.g. while a model file on a hung mount is being read).
   */
  constructor(logger: Logger, proc: SignalProcess = process, exit: (code: number) => void = (code) => process.exit(code)) {
    this.#logger = logger;
    this.#proc = proc;
    this.#exit = exit;
    for (const s of SHUTDOWN_SIGNALS) proc.on(s, this.#onSignal);
  }

  /** The first signal received, if any. */
  get received(): NodeJS.Signals | undefined {
    return this.#received;
  }

  /**
   * Stops `server` gracefully (within `graceMs`) at the first signal, or at
   * once when one has already arrived; resolves once it has stopped. Call
   * it once, right after the server has started.
   */
  stop(server: IrisServer, graceMs: number): Promise<ShutdownResult> {
    if (this.#server !== undefined) throw new Error("ShutdownSignals.stop() called twice");
    return new Promise((resolve) => {
      this.#server = { server, graceMs, resolve };
      if (this.#received !== undefined) this.#begin(this.#received);
    });
  }

  /** Removes the signal handlers. */
  dispose(): void {
    for (const s of SHUTDOWN_SIGNALS) this.#proc.off(s, this.#onSignal);
  }

  readonly #onSignal = (signal: NodeJS.Signals): void => {
    if (this.#received === undefined) {
      this.#received = signal;
      if (this.#server === undefined) {
        this.#logger.info({ signal }, "signal during start-up: stopping once started, without serving");
      } else {
        this.#begin(signal);
      }
      return;
    }
    if (this.#server === undefined) {
      this.#logger.warn({ signal }, "second signal during start-up: exiting now");
      this.#exit(1);
      return;
    }
    this.#logger.warn({ signal }, "second signal: stopping now");
    void this.#server.server.forceShutdown();
  };

  #begin(signal: NodeJS.Signals): void {
    const target = this.#server;
    if (target === undefined || this.#stopping !== undefined) return;
    const { server, graceMs, resolve } = target;
    this.#logger.info({ signal, graceMs }, "shutting down: health NOT_SERVING, no new calls, finishing calls in flight");
    const started = performance.now();
    this.#stopping = server.shutdown(graceMs);
    void this.#stopping.then((result) => {
      this.dispose();
      const ms = Math.round(performance.now() - started);
      if (result.forced) this.#logger.warn({ ms }, "calls still in flight were cut off");
      this.#logger.info({ ms, forced: result.forced }, "stopped");
      resolve(result);
    });
  }
}

/**
 * SIGHUP reloads the model (see ModelReloader) instead of ending the
 * process, which is what it does to a Node process without a handler. The
 * handler is installed with the shutdown ones, before the model loads: a
 * SIGHUP during start-up is logged and changes nothing (the file is being
 * read then anyway).
 */
export class ReloadSignal {
  readonly #logger: Logger;
  readonly #proc: SignalProcess;
  #reload: (() => Promise<unknown>) | undefined;

  constructor(logger: Logger, proc: SignalProcess = process) {
    this.#logger = logger;
    this.#proc = proc;
    proc.on("SIGHUP", this.#onSignal);
  }

  /** What SIGHUP does from now on. */
  handle(reload: () => Promise<unknown>): void {
    this.#reload = reload;
  }

  dispose(): void {
    this.#proc.off("SIGHUP", this.#onSignal);
  }

  readonly #onSignal = (signal: NodeJS.Signals): void => {
    if (this.#reload === undefined) {
      this.#logger.info({ signal }, "signal during start-up: the model file is being read now anyway");
      return;
    }
    this.#logger.info({ signal }, "reloading the model");
    void this.#reload();
  };
}

/**
 * SIGUSR1 and SIGUSR2, logged and otherwise ignored. Without a handler,
 * SIGUSR1 makes Node open its inspector on 127.0.0.1:9229 (anyone who can
 * signal the process, or reach that port inside the pod, could then run
 * code in it), and SIGUSR2 ends the process without a drain or a log line.
 * A listener of its own replaces Node's SIGUSR1 handling, so the inspector
 * cannot be opened by signal.
 */
export class IgnoredSignals {
  static readonly SIGNALS = ["SIGUSR1", "SIGUSR2"] as const;
  readonly #logger: Logger;
  readonly #proc: SignalProcess;

  constructor(logger: Logger, proc: SignalProcess = process) {
    this.#logger = logger;
    this.#proc = proc;
    for (const s of IgnoredSignals.SIGNALS) proc.on(s, this.#onSignal);
  }

  dispose(): void {
    for (const s of IgnoredSignals.SIGNALS) this.#proc.off(s, this.#onSignal);
  }

  readonly #onSignal = (signal: NodeJS.Signals): void => {
    this.#logger.warn({ signal }, "signal ignored: it neither stops the server nor opens the inspector");
  };
}

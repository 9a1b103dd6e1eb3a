/**
 * Graceful stop on SIGTERM/SIGINT. Handlers are installed explicitly, so the
 * server also stops cleanly as PID 1 in a container (where the kernel gives
 * signals no default action). A second signal cuts the grace period short.
 */
import type { Logger } from "../logger.js";
import type { IrisServer, ShutdownResult } from "./server.js";

export const SHUTDOWN_SIGNALS = ["SIGTERM", "SIGINT"] as const;

/**
 * Resolves once a signal has arrived and the server has stopped (within
 * `graceMs`, plus the time to cut off what remained).
 */
export function stopOnSignal(
  server: IrisServer,
  graceMs: number,
  logger: Logger,
  proc: Pick<NodeJS.Process, "on" | "off"> = process,
): Promise<ShutdownResult> {
  return new Promise((resolve) => {
    let received = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (received) {
        logger.warn({ signal }, "second signal: stopping now");
        server.grpcServer.forceShutdown();
        return;
      }
      received = true;
      logger.info({ signal, graceMs }, "shutting down: health NOT_SERVING, no new calls, finishing calls in flight");
      const started = performance.now();
      void server.shutdown(graceMs).then((result) => {
        for (const s of SHUTDOWN_SIGNALS) proc.off(s, onSignal);
        const ms = Math.round(performance.now() - started);
        if (result.forced) logger.warn({ ms }, "grace period over: calls still in flight were cancelled");
        logger.info({ ms, forced: result.forced }, "stopped");
        resolve(result);
      });
    };
    for (const s of SHUTDOWN_SIGNALS) proc.on(s, onSignal);
  });
}

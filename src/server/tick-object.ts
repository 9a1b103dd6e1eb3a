/**
 * Keeps one of Node's own `process.nextTick` records alive for as long as
 * the process runs, so that every later `process.nextTick` stays fast.
 *
 * Node builds each record as an object literal with two symbol keys
 * (`{ [async_id_symbol]: ..., [trigger_async_id_symbol]: ..., callback,
 * args }`). Its hidden classes live only through the records alive at a
 * time, and V8 forgets them at a garbage collection that finds none. When
 * that happens in the middle of a concurrent mark-compact, as the one the
 * server's start-up prompts often does, V8 afterwards defines each new
 * record's properties through its slow runtime path: measured on Node 20,
 * `process.nextTick` took 300-500 ns instead of 60-100 ns, in 5 of 6
 * starts of `iris serve`, for the life of the process. A gRPC call makes
 * about a dozen ticks (grpc-js, node:http2, the streams), so that was some
 * 6 µs of server CPU per `Predict`, a tenth of its cost. The no-op server
 * of the benchmark, whose start-up prompts no mark-compact, never had it.
 * One record kept alive keeps the hidden classes known (see
 * docs/performance.md).
 *
 * The record is taken from inside a tick of its own: while a tick's
 * callback runs, `executionAsyncResource()` is that tick's record (no hook
 * is installed).
 */
import { executionAsyncResource } from "node:async_hooks";

let held: object | undefined;

/** Keeps one nextTick record alive (once per process; later calls do nothing). Takes effect at the next tick. */
export function holdTickObject(): void {
  if (held !== undefined) return;
  held = {};
  process.nextTick(() => {
    held = executionAsyncResource();
  });
}

/** The record kept, once the tick has run (for tests). */
export function heldTickObject(): object | undefined {
  return held;
}

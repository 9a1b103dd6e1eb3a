/**
 * Keeps one of Node's own `process.nextTick` records alive for as long as
 * the process runs, so that every later `process.nextTick` stays fast.
 *
 * Node builds each record as an object literal with two symbol keys
 * (`{ [async_id_symbol]: ..., [trigger_async_id_symbol]: ..., callback,
 * args }`), whose hidden classes live only through the records alive at
 * the time. Measured on Node 20: after the concurrent mark-compact that
 * the server's start-up (with the HTTP port) prompts, in 5 of 6 starts of
 * `iris serve`, V8 defined each new record's properties through its slow
 * runtime path for the life of the process, and a `process.nextTick` took
 * 300-500 ns instead of 60-100 ns. Without concurrent or incremental
 * marking, or with no mark-compact during start-up, every start was fast;
 * the likely reason is that the collection, finding no record alive,
 * drops the records' hidden classes while the code that makes them still
 * refers to them. A gRPC call makes about a dozen ticks (grpc-js,
 * node:http2, the streams): some 6 µs of server CPU per `Predict`, a
 * tenth of its cost. With one record kept alive, 8 of 8 starts were fast
 * (see docs/performance.md).
 *
 * The record is taken from inside a tick of its own: while a tick's
 * callback runs, `executionAsyncResource()` is that tick's record (no hook
 * is installed).
 */
import { executionAsyncResource } from "node:async_hooks";

let asked = false;
let held: object | undefined;

/** Keeps one nextTick record alive (once per process; later calls do nothing). Takes effect at the next tick. */
export function holdTickObject(): void {
  if (asked) return;
  asked = true;
  process.nextTick(() => {
    held = executionAsyncResource();
  });
}

/** The record kept, once the tick has run (for tests). */
export function heldTickObject(): object | undefined {
  return held;
}

/**
 * Completes, once, the options grpc-js answers every call's headers with,
 * so that node:http2's copy of them keeps one hidden class.
 *
 * grpc-js's base call sends a call's headers with `stream.respond(headers,
 * OPTIONS)`, OPTIONS being one object of its own: `{ waitForTrailers: true }`.
 * node:http2's `respond` copies it (`options = { ...options }`) and then
 * sets `endStream` on the copy. Measured on Node 20: the copies share one
 * hidden class, but each copy with `endStream` added gets a hidden class of
 * its own (in a loop, 50 000 of 50 000 differed from the one before; when
 * the object copied already had `endStream`, none did). Under Predict load
 * that was about 2 % of the server's CPU samples in V8's runtime
 * (`Map::CopyWithField` under `Runtime_KeyedStoreIC_Slow`, in `respond`),
 * and a hidden class per call for the collector (see docs/performance.md).
 *
 * grpc-js's object is given `endStream: false`, which node:http2 reads as
 * it reads the property absent. The object is not grpc-js's public API
 * (grpc-js is pinned): it is found by running the base call's
 * `sendMetadata` once on a stand-in call whose stream only records what
 * `respond` is given. With a grpc-js where that finds no such object,
 * nothing changes and an error is logged once.
 */
import type { Logger } from "../../logger.js";

/** Whether the options were completed, once it has been tried. */
let completed: boolean | undefined;

/** The options grpc-js's base call (the prototype of `base`) passes to `respond`, or undefined. */
function responseOptionsOf(base: object): unknown {
  const sendMetadata = (Object.getPrototypeOf(base) as { sendMetadata?: unknown }).sendMetadata;
  if (typeof sendMetadata !== "function") return undefined;
  let given: unknown;
  const standIn = {
    metadataSent: false,
    checkCancelled: () => false,
    stream: {
      respond: (_headers: unknown, options: unknown) => {
        given = options;
      },
    },
  };
  try {
    (sendMetadata as (metadata: undefined) => void).call(standIn, undefined);
  } catch {
    return undefined;
  }
  return given;
}

/**
 * Gives grpc-js's response options `endStream: false` (see above), the
 * first time it is called with grpc-js's base call (later calls do
 * nothing). Returns whether the options are complete.
 */
export function completeResponseOptions(base: object, logger: Logger): boolean {
  if (completed !== undefined) return completed;
  const options = responseOptionsOf(base) as Record<string, unknown> | undefined;
  const usable =
    typeof options === "object" &&
    options !== null &&
    Object.getPrototypeOf(options) === Object.prototype &&
    options.waitForTrailers === true &&
    Object.isExtensible(options);
  if (!usable) {
    logger.error("this grpc-js's response options were not found: node:http2 makes a hidden class per answer");
    return (completed = false);
  }
  if (!("endStream" in options)) options.endStream = false;
  return (completed = true);
}

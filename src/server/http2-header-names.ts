/**
 * Uses each of node:http2's header-name constants (`HTTP2_HEADER_*`) once
 * as a property key, as soon as node:http2 is loaded, so that node:http2's
 * own code keys header objects by the strings V8 itself keys properties by.
 * Imported for that effect alone, and first: `iris serve` imports it, and
 * waits for it, before it loads anything else (src/cli/commands/index.ts).
 *
 * Node makes these constants in C++ as plain strings. V8 keys properties by
 * its one internalized string per text, and "date" is one already when
 * node:http2 loads. The first time a constant is used as a key, V8 turns
 * it into a forwarding ("thin") string to the internalized one. A
 * young-generation collection replaces references to a young forwarding
 * string by the string it points to; an old one stays.
 * Measured on Node 20: in `iris serve`, node:http2's first response came
 * after start-up had moved the constants to the old generation, and the
 * store of the `date` header every response gets (`headers[HTTP2_HEADER_DATE]
 * = ...` in node:http2's `processHeaders`) missed its inline cache on every
 * call (V8's `--log-ic`: 29 994 misses in 30 000 `Predict` calls; about 2 %
 * of the server's CPU samples under load). Made here, the forwarding
 * strings are young, the collections of start-up replace them, and the
 * store missed once in 30 000 calls (see docs/performance.md).
 */
import { constants } from "node:http2";

const keys: Record<string, true> = {};
for (const [name, value] of Object.entries(constants)) {
  if (name.startsWith("HTTP2_HEADER_") && typeof value === "string") keys[value] = true;
}

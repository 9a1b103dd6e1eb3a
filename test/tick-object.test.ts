/**
 * The server keeps one of process.nextTick's own records alive
 * (src/server/tick-object.ts): a started server holds one, it is a record
 * of the kind nextTick makes now (the same own keys), and it is held once
 * per process. The speed it keeps is measured by the benchmark
 * (docs/performance.md), not here.
 */
import { executionAsyncResource } from "node:async_hooks";
import { describe, expect, it } from "vitest";
import { heldTickObject, holdTickObject } from "../src/server/tick-object.js";
import { useServers } from "./support/use-servers.js";

/** A record process.nextTick makes now, taken from inside its own tick. */
function freshTickObject(): Promise<object> {
  return new Promise((resolve) => process.nextTick(() => resolve(executionAsyncResource())));
}

/** Own keys, symbols by their description. */
function keysOf(record: object): string[] {
  return Reflect.ownKeys(record).map((key) => (typeof key === "symbol" ? `symbol:${key.description}` : key));
}

describe("the nextTick record the server holds", () => {
  const servers = useServers();

  it("is held once a server has started, and is one of nextTick's own records", async () => {
    expect(heldTickObject()).toBeUndefined();
    await servers.start();
    const held = heldTickObject();
    const fresh = await freshTickObject();
    expect(held).toBeDefined();
    expect(held).not.toBe(fresh);
    expect(keysOf(held!)).toEqual(keysOf(fresh));
    expect(keysOf(fresh)).toEqual(["callback", "args", "symbol:async_id_symbol", "symbol:trigger_async_id_symbol"]);
    expect(typeof (held as { callback?: unknown }).callback).toBe("function");
  });

  it("is held once per process: later calls keep the first record", async () => {
    const first = heldTickObject();
    expect(first).toBeDefined();
    holdTickObject();
    await freshTickObject();
    expect(heldTickObject()).toBe(first);
  });
});

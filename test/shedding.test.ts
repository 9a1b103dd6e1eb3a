/**
 * Load shedding against a real server: with its calls in progress at the
 * limit, a new call is refused at once (RESOURCE_EXHAUSTED with a
 * google.rpc.RetryInfo delay over gRPC, 503 with Retry-After over HTTP),
 * while health, readiness and metrics are still answered; once a call
 * ends, its place is free again.
 */
import { describe, expect, it } from "vitest";
import { createIrisClient, IrisError } from "../src/client/index.js";
import { Code } from "../src/errors.js";
import type { IrisServiceServer } from "../src/gen/iris.js";
import { SHED_RETRY_AFTER_MS } from "../src/server/limits.js";
import { SETOSA } from "./support/flowers.js";
import { call } from "./support/service-fixtures.js";
import { useServers } from "./support/use-servers.js";

const servers = useServers();

/** Predict handlers that wait until released; `entered(n)` resolves once n calls are being handled. */
function holdPredict() {
  let count = 0;
  const waiting: { n: number; resolve: () => void }[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const decorateService = (service: IrisServiceServer): IrisServiceServer => ({
    ...service,
    predict(c, cb) {
      count++;
      for (const w of waiting.filter((x) => x.n <= count)) w.resolve();
      void released.then(() => service.predict(c, cb));
    },
  });
  const entered = (n: number) => (count >= n ? Promise.resolve() : new Promise<void>((resolve) => waiting.push({ n, resolve })));
  return { decorateService, entered, release };
}

describe("load shedding", () => {
  it("refuses calls over the limit at once with a retry hint, on both ports, while probes are answered", async () => {
    const hold = holdPredict();
    const t = await servers.start({ httpPort: 0, limits: { maxConcurrentCalls: 2 }, decorateService: hold.decorateService });
    const c = servers.client(t.address);
    const held = [call(c, c.predict, { flower: SETOSA }), call(c, c.predict, { flower: SETOSA })];
    await hold.entered(2);
    expect(t.server.shedder.active).toBe(2);

    const sdk = createIrisClient(t.address, { deadlineMs: 20_000 });
    servers.defer(() => sdk.close());
    const refused = await sdk.modelInfo().catch((e: unknown) => e as IrisError);
    expect(refused).toBeInstanceOf(IrisError);
    expect(refused).toMatchObject({
      code: Code.RESOURCE_EXHAUSTED,
      message: "the server is busy: 2 calls in progress (limit 2); retry shortly or on another instance",
      retryAfterMs: SHED_RETRY_AFTER_MS,
    });

    const base = `http://127.0.0.1:${t.server.httpPort}`;
    const shed = await fetch(`${base}/predict`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ features: [5.1, 3.5, 1.4, 0.2] }),
    });
    expect(shed.status).toBe(503);
    expect(shed.headers.get("retry-after")).toBe(String(SHED_RETRY_AFTER_MS / 1000));
    expect(await shed.json()).toEqual({ error: "the server is busy: 2 calls in progress (limit 2); retry shortly or on another instance" });

    // Probes are never shed.
    const health = servers.health(t.address);
    const status = await new Promise<string | undefined>((resolve, reject) =>
      health.check({ service: "" }, (err, res) => (err ? reject(err) : resolve(res?.status))),
    );
    expect(status).toBe("SERVING");
    for (const path of ["/v2/health/live", "/v2/health/ready", "/metrics"]) {
      expect([path, (await fetch(`${base}${path}`)).status]).toEqual([path, 200]);
    }

    // The held calls finish; their places are free again.
    hold.release();
    expect((await Promise.all(held)).map((r) => r.ok)).toEqual([true, true]);
    expect((await sdk.predict(SETOSA)).species).toBe("setosa");
    expect(t.server.shedder.active).toBe(0);
  });

  it("counts refused calls in the metrics, with their status", async () => {
    const hold = holdPredict();
    const t = await servers.start({ httpPort: 0, limits: { maxConcurrentCalls: 1 }, decorateService: hold.decorateService });
    const c = servers.client(t.address);
    const held = call(c, c.predict, { flower: SETOSA });
    await hold.entered(1);
    const refused = await call(c, c.predict, { flower: SETOSA });
    expect(refused.ok ? undefined : refused.err.code).toBe(Code.RESOURCE_EXHAUSTED);
    const text = await (await fetch(`http://127.0.0.1:${t.server.httpPort}/metrics`)).text();
    expect(text).toMatch(/grpc_server_handled_total\{[^}]*grpc_method="Predict"[^}]*grpc_code="RESOURCE_EXHAUSTED"[^}]*\} 1/);
    hold.release();
    expect((await held).ok).toBe(true);
  });
});

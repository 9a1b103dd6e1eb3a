/**
 * What docs/deployment.md ("Scaling") tells callers: with a target that
 * resolves to several servers (a headless Service's DNS name in Kubernetes),
 * the SDK spreads calls over all of them when the channel uses round_robin,
 * while the default (pick_first) keeps every call on one server. Two real
 * servers on 127.0.0.1 and 127.0.0.2, same port, serving different model
 * versions so each answer tells which server gave it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createIrisClient, type IrisClient } from "../src/client/index.js";
import { IrisModel, modelVersion } from "../src/model/index.js";
import { referenceArtifact, startTestServer, type TestServer } from "./support/service-fixtures.js";

const ROUND_ROBIN = { "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }) };
const FLOWER = { sepalLength: 5.1, sepalWidth: 3.5, petalLength: 1.4, petalWidth: 0.2 };

let servers: TestServer[] = [];
let target: string;
let versions: string[];

beforeAll(async () => {
  const base = await referenceArtifact();
  const shifted = { ...base, intercepts: base.intercepts.map((b) => b + 0.001) };
  shifted.version = modelVersion({
    features: shifted.features.map((f) => f.name),
    classes: shifted.classes,
    coefficients: shifted.coefficients,
    intercepts: shifted.intercepts,
  });
  const first = await startTestServer({ host: "127.0.0.1", port: 0, model: new IrisModel(base) });
  const port = first.server.port;
  // The same port on a second loopback address, as two pods behind one name.
  const second = await startTestServer({ host: "127.0.0.2", port, model: new IrisModel(shifted) });
  servers = [first, second];
  versions = [base.version, shifted.version];
  target = `ipv4:127.0.0.1:${port},127.0.0.2:${port}`;
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.server.shutdown(1000)));
});

/** Model versions that answered `calls` calls (stopping early once both servers have). */
async function versionsSeen(client: IrisClient, calls: number): Promise<Set<string>> {
  const seen = new Set<string>();
  try {
    for (let i = 0; i < calls && seen.size < 2; i++) seen.add((await client.predict(FLOWER)).modelVersion);
  } finally {
    client.close();
  }
  return seen;
}

describe("client-side load balancing with the SDK", () => {
  it("round_robin spreads calls over every server the target resolves to", async () => {
    // Each connection comes up on its own; a few calls may land before both are ready.
    const seen = await versionsSeen(createIrisClient(target, { channelOptions: ROUND_ROBIN }), 200);
    expect([...seen].sort()).toEqual([...versions].sort());
  });

  it("the default policy (pick_first) keeps one connection to one server", async () => {
    const seen = await versionsSeen(createIrisClient(target), 50);
    expect(seen.size).toBe(1);
  });
});

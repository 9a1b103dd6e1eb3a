/**
 * What docs/deployment.md ("Scaling") tells callers: with a target that
 * resolves to several servers (a headless Service's DNS name in Kubernetes),
 * the SDK's `loadBalancing: "round_robin"` spreads calls over all of them,
 * while the default (pick_first) keeps every call on one server. Two real
 * servers on 127.0.0.1 (two ports), serving different model versions so that
 * each answer tells which server gave it, behind one static `ipv4:` target.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Code, createIrisClient, IrisError, type IrisClient, type IrisClientOptions } from "../src/client/index.js";
import { IrisModel, modelVersion } from "../src/model/index.js";
import { SETOSA } from "./support/flowers.js";
import { referenceArtifact } from "./support/service-fixtures.js";
import { useServer } from "./support/use-servers.js";

/** The reference model, and one shifted just enough to have another version. */
async function twoModels(): Promise<[IrisModel, IrisModel]> {
  const base = await referenceArtifact();
  const shifted = { ...base, intercepts: base.intercepts.map((b) => b + 0.001) };
  shifted.version = modelVersion({
    features: shifted.features.map((f) => f.name),
    classes: shifted.classes,
    coefficients: shifted.coefficients,
    intercepts: shifted.intercepts,
  });
  return [new IrisModel(base), new IrisModel(shifted)];
}
const models = twoModels();
const servers = [useServer(async () => ({ model: (await models)[0] })), useServer(async () => ({ model: (await models)[1] }))];
let target: string;
let versions: string[];

beforeAll(async () => {
  versions = (await models).map((m) => m.version);
  expect(versions[0]).not.toBe(versions[1]);
  target = `ipv4:${servers.map((s) => `127.0.0.1:${s().server.port}`).join(",")}`;
});

/**
 * The model version of each of `calls` sequential calls, made once both
 * servers have answered (connections come up one by one, so the first calls
 * may all go to the first one ready), or after 1000 calls if they never do.
 */
async function answers(options: IrisClientOptions, calls: number): Promise<{ warmUp: Set<string>; seq: string[] }> {
  const client: IrisClient = createIrisClient(target, options);
  try {
    const warmUp = new Set<string>();
    for (let i = 0; i < 1000 && warmUp.size < 2; i++) warmUp.add((await client.predict(SETOSA)).modelVersion);
    const seq: string[] = [];
    for (let i = 0; i < calls; i++) seq.push((await client.predict(SETOSA)).modelVersion);
    return { warmUp, seq };
  } finally {
    client.close();
  }
}

describe("client-side load balancing with the SDK", () => {
  it('loadBalancing: "round_robin" reaches every server and alternates calls between them', async () => {
    const { warmUp, seq } = await answers({ loadBalancing: "round_robin" }, 20);
    expect([...warmUp].sort()).toEqual([...versions].sort());
    // With both connections ready, each call goes to the next server in turn.
    const [first, second] = [seq[0]!, seq[1]!];
    expect(first).not.toBe(second);
    expect(seq).toEqual(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? first : second)));
  });

  it.each([
    ["the default policy", {}],
    ['loadBalancing: "pick_first"', { loadBalancing: "pick_first" }],
  ] as [string, IrisClientOptions][])("%s keeps every call on one server", async (_label, options) => {
    const client = createIrisClient(target, options);
    try {
      const seen = new Set<string>();
      for (let i = 0; i < 50; i++) seen.add((await client.predict(SETOSA)).modelVersion);
      expect(seen.size).toBe(1);
      expect(versions).toContain([...seen][0]);
    } finally {
      client.close();
    }
  });

  it("refuses an unknown policy, or one given twice", () => {
    const refused = (options: IrisClientOptions): IrisError => {
      try {
        createIrisClient(target, options).close();
      } catch (err) {
        expect(err).toBeInstanceOf(IrisError);
        expect((err as IrisError).code).toBe(Code.INVALID_ARGUMENT);
        return err as IrisError;
      }
      throw new Error("expected createIrisClient to throw");
    };
    // @ts-expect-error only pick_first and round_robin are offered
    expect(refused({ loadBalancing: "random" }).message).toBe("loadBalancing must be one of pick_first, round_robin; got random");
    expect(
      refused({ loadBalancing: "round_robin", channelOptions: { "grpc.service_config": "{}" } }).message,
    ).toBe('give loadBalancing or channelOptions["grpc.service_config"], not both');
  });
});

/**
 * The server's connection and process life cycle, in this process against
 * real servers on 127.0.0.1:0: connections closed after a maximum age (with
 * calls in flight finishing), signals before and during a graceful stop,
 * health Watch streams for services the server does not report, and
 * errors that must not reach the caller.
 */
import { EventEmitter, once } from "node:events";
import { connect as http2Connect, constants as http2Constants, type ClientHttp2Session } from "node:http2";
import { describe, expect, it } from "vitest";
import { Code, IrisError } from "../src/errors.js";
import { PredictRequest, PredictResponse, type IrisServiceServer } from "../src/gen/iris.js";
import { memoryLogger } from "./support/memory-logger.js";
import { IrisModel } from "../src/model/index.js";
import { ShutdownSignals } from "../src/server/signals.js";
import { SETOSA } from "./support/flowers.js";
import { call, referenceArtifact, watchStatuses } from "./support/service-fixtures.js";
import { useServers } from "./support/use-servers.js";

const servers = useServers();
const serve = servers.start;

/** An HTTP/2 connection to `port` that reports the GOAWAY it gets. */
async function rawSession(port: number): Promise<{ session: ClientHttp2Session; goaway: Promise<number> }> {
  const session = http2Connect(`http://127.0.0.1:${port}`);
  servers.defer(() => session.destroy());
  session.on("error", () => undefined);
  const goaway = once(session, "goaway").then(([code]) => code as number);
  await once(session, "connect");
  return { session, goaway };
}

/**
 * Opens a Predict call on `session` and sends only part of its request, so
 * that it stays open at the server until `finish()` sends the rest.
 */
async function openPredict(session: ClientHttp2Session) {
  const message = PredictRequest.encode({ flower: SETOSA }).finish();
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  const stream = session.request({
    ":method": "POST",
    ":path": "/iris.v1.IrisService/Predict",
    "content-type": "application/grpc",
    te: "trailers",
  });
  stream.on("error", () => undefined);
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  const trailers = once(stream, "trailers").then(([t]) => t as Record<string, string>);
  stream.write(frame.subarray(0, 3));
  // The ping is answered after the server has read the frames before it.
  await new Promise<void>((resolve, reject) => session.ping((err) => (err ? reject(err) : resolve())));
  return {
    stream,
    async finish(): Promise<{ status: string; response: PredictResponse }> {
      stream.end(frame.subarray(3));
      const t = await trailers;
      const body = Buffer.concat(chunks);
      return { status: t["grpc-status"]!, response: PredictResponse.decode(body.subarray(5)) };
    },
  };
}

describe("maximum connection age", () => {
  it("sends GOAWAY to an old connection, lets its call in flight finish, and keeps serving new connections", async () => {
    const t = await serve({ maxConnectionAgeMs: 200, maxConnectionAgeGraceMs: 60_000 });
    const { session, goaway } = await rawSession(t.server.port);
    const open = await openPredict(session);

    expect(await goaway).toBe(http2Constants.NGHTTP2_NO_ERROR);
    const { status, response } = await open.finish();
    expect(status).toBe("0");
    expect(response.prediction!.species).toBe("setosa");

    const c = servers.client(t.address);
    const after = await call(c, c.predict, { flower: SETOSA });
    expect(after.ok).toBe(true);
  });

  it("closes the old connection when its grace period runs out, even with a call still open", async () => {
    const t = await serve({ maxConnectionAgeMs: 100, maxConnectionAgeGraceMs: 100 });
    const { session, goaway } = await rawSession(t.server.port);
    const open = await openPredict(session);
    await goaway;
    await once(session, "close");
    expect(open.stream.closed).toBe(true);
    expect(open.stream.rstCode).not.toBe(http2Constants.NGHTTP2_NO_ERROR);
  });
});

/** A process stand-in that signals can be sent to. */
function fakeProcess() {
  const proc = new EventEmitter();
  const exits: number[] = [];
  return {
    proc: proc as unknown as Pick<NodeJS.Process, "on" | "off">,
    send: (signal: NodeJS.Signals) => proc.emit(signal, signal),
    listeners: () => proc.listenerCount("SIGTERM") + proc.listenerCount("SIGINT"),
    exits,
    exit: (code: number) => void exits.push(code),
  };
}

/** Predict calls wait until released; `entered` resolves when the first one arrives. */
function holdPredict() {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let arrived!: () => void;
  const entered = new Promise<void>((resolve) => (arrived = resolve));
  const decorateService = (service: IrisServiceServer): IrisServiceServer => ({
    ...service,
    predict(c, cb) {
      arrived();
      void released.then(() => service.predict(c, cb));
    },
  });
  return { decorateService, entered, release };
}

describe("ShutdownSignals", () => {
  it("remembers a signal that arrives before the server is up, and stops it as soon as it is", async () => {
    const { logger, lines } = memoryLogger("info");
    const p = fakeProcess();
    const signals = new ShutdownSignals(logger, p.proc, p.exit);
    p.send("SIGTERM");
    expect(signals.received).toBe("SIGTERM");
    const t = await serve();
    expect(await signals.stop(t.server, 5_000)).toEqual({ forced: false });
    expect(t.server.health.status).toBe("NOT_SERVING");
    expect(lines.map((l) => l.msg)).toEqual([
      "signal during start-up: stopping once started, without serving",
      "shutting down: health NOT_SERVING, no new calls, finishing calls in flight",
      "stopped",
    ]);
    expect(p.listeners()).toBe(0);
    expect(p.exits).toEqual([]);
  });

  it("a second signal during start-up exits at once", () => {
    const { logger } = memoryLogger("silent");
    const p = fakeProcess();
    const signals = new ShutdownSignals(logger, p.proc, p.exit);
    p.send("SIGINT");
    expect(p.exits).toEqual([]);
    p.send("SIGINT");
    expect(p.exits).toEqual([1]);
    signals.dispose();
    expect(p.listeners()).toBe(0);
  });

  it("a second signal cuts the grace period short and the stop is reported as forced", async () => {
    const { logger, lines } = memoryLogger("info");
    const p = fakeProcess();
    const hold = holdPredict();
    const t = await serve({ decorateService: hold.decorateService });
    const c = servers.client(t.address);
    const pending = call(c, c.predict, { flower: SETOSA });
    await hold.entered;

    const stopped = new ShutdownSignals(logger, p.proc, p.exit).stop(t.server, 600_000);
    p.send("SIGTERM");
    p.send("SIGTERM");
    expect(await stopped).toEqual({ forced: true });
    expect((await pending).ok).toBe(false);
    expect(lines.map((l) => l.msg)).toEqual([
      "shutting down: health NOT_SERVING, no new calls, finishing calls in flight",
      "second signal: stopping now",
      "calls still in flight were cut off",
      "stopped",
    ]);
    expect(lines.at(-1)).toMatchObject({ forced: true });
    hold.release();
  });
});

describe("IrisServer.forceShutdown", () => {
  it("ends a graceful shutdown early, and both report forced", async () => {
    const hold = holdPredict();
    const t = await serve({ decorateService: hold.decorateService });
    const c = servers.client(t.address);
    const pending = call(c, c.predict, { flower: SETOSA });
    await hold.entered;
    const graceful = t.server.shutdown(600_000);
    expect(await t.server.forceShutdown()).toEqual({ forced: true });
    expect(await graceful).toEqual({ forced: true });
    const result = await pending;
    expect(result.ok).toBe(false);
    hold.release();
  });
});

describe("health Watch", () => {
  it("answers SERVICE_UNKNOWN for a service the server does not report, and ends the stream at shutdown", async () => {
    const t = await serve();
    const h = servers.health(t.address);
    const unknown = watchStatuses(h, "no.such.Service");
    const known = watchStatuses(h, "iris.v1.IrisService");
    expect(await unknown.next()).toBe("SERVICE_UNKNOWN");
    expect(await known.next()).toBe("SERVING");
    const stopped = t.server.shutdown(60_000);
    expect(await known.next()).toBe("NOT_SERVING");
    expect(await known.next()).toBeNull();
    expect(await unknown.next()).toBeNull();
    expect(await stopped).toEqual({ forced: false });
  });
});

describe("errors that say something broke inside", () => {
  it.each([
    ["an IrisError with INTERNAL", Code.INTERNAL],
    ["an IrisError with UNKNOWN", Code.UNKNOWN],
    ["an IrisError with DATA_LOSS", Code.DATA_LOSS],
    ["an IrisError with OK", Code.OK],
  ])("%s reaches the caller as INTERNAL \"internal error\", and the log in full", async (_label, code) => {
    class BrokenModel extends IrisModel {
      override predictInto(): number {
        throw new IrisError(code, "/srv/models/secret.json: checksum mismatch");
      }
    }
    const t = await serve({ model: new BrokenModel(await referenceArtifact()) });
    const c = servers.client(t.address);
    const result = await call(c, c.predict, { flower: SETOSA });
    if (result.ok) throw new Error("expected the call to fail");
    expect([result.err.code, result.err.details]).toEqual([Code.INTERNAL, "internal error"]);
    expect(t.logs.find((l) => l.msg === "internal error")).toMatchObject({
      level: "error",
      method: "Predict",
      err: { message: "/srv/models/secret.json: checksum mismatch" },
    });
  });
});

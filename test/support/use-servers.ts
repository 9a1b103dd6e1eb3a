/**
 * Test servers that set themselves up and tear themselves down, after
 * connect-es's useNodeServer: call useServers() at the top of a suite (or a
 * describe block) and every server it starts, every client and every
 * resource it is handed is closed after each test, whatever the test did.
 * useServer() is the one-server-per-suite form (beforeAll/afterAll).
 */
import { afterAll, afterEach, beforeAll } from "vitest";
import type { IrisServiceClient } from "../../src/gen/iris.js";
import {
  generatedClient,
  healthClient,
  startTestServer,
  type HealthClient,
  type TestServer,
  type TestServerOptions,
} from "./service-fixtures.js";

export interface Servers {
  /** A real server on 127.0.0.1:0, stopped (cut off at once) after the test. */
  start(options?: TestServerOptions): Promise<TestServer>;
  /** A generated iris.v1 client, closed after the test. */
  client(address: string): IrisServiceClient;
  /** A grpc.health.v1 client, closed after the test. */
  health(address: string): HealthClient;
  /** Closes `resource` after the test (clients, sessions, temporary directories...). */
  defer(close: () => unknown): void;
}

export function useServers(): Servers {
  let servers: TestServer[] = [];
  let closers: (() => unknown)[] = [];
  afterEach(async () => {
    const pending = closers.reverse();
    closers = [];
    for (const close of pending) await close();
    await Promise.all(servers.map((s) => s.server.forceShutdown()));
    servers = [];
  });
  const track = <T extends { close(): void }>(client: T): T => {
    closers.push(() => client.close());
    return client;
  };
  return {
    async start(options) {
      const t = await startTestServer(options);
      servers.push(t);
      return t;
    },
    client: (address) => track(generatedClient(address)),
    health: (address) => track(healthClient(address)),
    defer(close) {
      closers.push(close);
    },
  };
}

/** One server for a whole suite: started before its first test, stopped after its last. */
export function useServer(options?: TestServerOptions | (() => Promise<TestServerOptions>)): () => TestServer {
  let server: TestServer | undefined;
  beforeAll(async () => {
    server = await startTestServer(typeof options === "function" ? await options() : options);
  });
  afterAll(async () => {
    await server?.server.forceShutdown();
  });
  return () => {
    if (server === undefined) throw new Error("useServer(): the server is started in beforeAll; read it inside a test");
    return server;
  };
}

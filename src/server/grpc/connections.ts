/**
 * The gRPC port's connections, owned here rather than by grpc-js: this
 * module listens with its own net.Server and hands every accepted socket to
 * grpc-js through Server.createConnectionInjector, so that it can
 *
 * - refuse connections over `maxConnections` (closed at once, logged at
 *   most once every 10 s), before they cost a file descriptor for long;
 * - know each connection by the peer address grpc-js reports for its calls,
 *   and count the answer bytes written to it that the client has not read
 *   yet (./flow.ts does the counting): a connection over its share gets its
 *   new calls refused (see `stage`), and when all connections together hold
 *   more than `maxUnreadBytes`, the one holding most is closed;
 * - close sockets that HTTP/2 has let go of but that linger: node:http2
 *   ends a session's socket with end(), which waits for the client to read
 *   what is left, forever if it never does (after a keepalive timeout, or a
 *   protocol error); such a socket is destroyed after LINGER_MS. node:http2
 *   does not even end() it while one of its writes is in progress (it waits
 *   for the write to finish), so a session that keepalive gave up on over a
 *   client that reads nothing at all would keep its socket for ever: a
 *   socket whose pending writes have made no progress for a keepalive round
 *   plus LINGER_MS is destroyed too (keepalive has given up on it by then);
 * - with mutual TLS, do the TLS handshake itself (HTTP/2 over the TLS
 *   socket, ALPN h2): it asks for a client certificate verified against the
 *   client CA but lets a connection without one through, so that health
 *   and readiness stay reachable; ../auth.ts refuses the other calls of
 *   such a connection (grpc-js reports a verified certificate only);
 * - close connections without calls for `idleTimeoutMs` (grpc-js's
 *   max_connection_idle_ms does the same, but at the cost of a `close`
 *   listener on every stream and a timer refreshed whenever a connection's
 *   last call ends): the call interceptor (./calls.ts) counts each
 *   connection's calls in progress, and the sweep, every second, sends
 *   GOAWAY to a connection that has had none for that long (its HTTP/2
 *   session is known from its first call; a connection that never made a
 *   call, whose session nothing here knows, has its socket closed instead:
 *   no call of its can be lost). Calls grpc-js refuses before any
 *   interceptor sees them (UNIMPLEMENTED, requests that are not gRPC) do
 *   not keep a connection from being idle;
 * - destroy every socket still open when a shutdown's grace period ends
 *   (grpc-js's forceShutdown destroys the HTTP/2 sessions, which again only
 *   end() their sockets), so that the process can exit.
 */
import type { Http2Session } from "node:http2";
import { createServer, type Server as NetServer, type Socket } from "node:net";
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from "node:tls";
import type { Server, ServerCredentials } from "@grpc/grpc-js";
import type { Logger } from "../../logger.js";
import type { Call, CallStage } from "../calls.js";
import { shed } from "../limits.js";

/** How long a socket may take to finish closing once HTTP/2 has ended it. */
const LINGER_MS = 5_000;
/** How often sockets are checked for lingering. */
const SWEEP_MS = 1_000;
/** How long a TLS handshake may take (mutual TLS only). */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** At most one "connection refused" log line this often. */
const DROP_LOG_INTERVAL_MS = 10_000;

export interface ConnectionLimits {
  /** Open connections at once; further ones are closed at once. */
  maxConnections: number;
  /** Unread answer bytes of one connection above which its new calls are refused. */
  maxUnreadBytesPerConnection: number;
  /** Unread answer bytes of all connections above which the worst reader is closed. */
  maxUnreadBytes: number;
  /** Keepalive ping interval (0: no pings) and how long a ping may go unanswered. */
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  /** Close a connection without calls this long (GOAWAY); 0: never. */
  idleTimeoutMs: number;
}

/** One open connection. */
export interface GrpcConnection {
  /** `address:port` of the client, as grpc-js's getPeer() gives it for the connection's calls. */
  readonly peer: string;
  readonly socket: Socket;
  /** Answer bytes written to the connection that the client has not read yet. */
  readonly unread: number;
  /** False once the socket has closed: its counts no longer matter. */
  readonly open: boolean;
}

interface Entry extends GrpcConnection {
  unread: number;
  open: boolean;
  /** When the socket was seen ended but not yet closed, or undefined. */
  endedAt: number | undefined;
  /** The bytes waiting to be written when last seen, and since when they have not changed. */
  stalled: { queued: number; since: number } | undefined;
  /** Calls in progress (see callStarted), and since when there have been none. */
  calls: number;
  idleSince: number;
  /** The connection's HTTP/2 session, from its first call. */
  session: Http2Session | undefined;
  /** Set once the connection has been told to close for being idle. */
  idleClosed: boolean;
}

/** Bytes a socket has queued and not yet written (libuv's write queue; node:http2 writes to it natively, past the Writable). */
function queuedBytes(socket: Socket): number {
  return (socket as unknown as { _handle?: { writeQueueSize?: number } | null })._handle?.writeQueueSize ?? 0;
}

/** `address:port` of a socket's peer, spelled as grpc-js spells a call's peer. */
function peerOf(socket: Socket): string {
  return `${socket.remoteAddress ?? "unknown"}:${socket.remotePort ?? 0}`;
}

export class GrpcConnections {
  readonly limits: ConnectionLimits;
  readonly #logger: Logger;
  readonly #byPeer = new Map<string, Entry>();
  readonly #net: NetServer;
  readonly #tls: TlsServer | undefined;
  #unread = 0;
  #sweeper: NodeJS.Timeout | undefined;
  #dropped = 0;
  #droppedLoggedAt = -Infinity;

  /**
   * Listens for connections and injects them into `server` with
   * `credentials`; with `clientTls`, each is first wrapped in TLS here (and
   * `credentials` must be insecure).
   */
  constructor(
    server: Server,
    credentials: ServerCredentials,
    limits: ConnectionLimits,
    logger: Logger,
    clientTls?: { cert: Buffer; key: Buffer; clientCa?: Buffer | undefined },
  ) {
    this.limits = limits;
    this.#logger = logger;
    const injector = server.createConnectionInjector(credentials);
    // A tls.Server that listens on nothing: it is handed the accepted sockets.
    this.#tls =
      clientTls === undefined
        ? undefined
        : createTlsServer({
            cert: clientTls.cert,
            key: clientTls.key,
            ca: clientTls.clientCa,
            requestCert: true,
            rejectUnauthorized: false,
            ALPNProtocols: ["h2"],
            handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
          });
    this.#tls?.on("secureConnection", (secure: TLSSocket) => {
      if (secure.alpnProtocol !== "h2") {
        secure.destroy();
        return;
      }
      injector.injectConnection(secure);
    });
    this.#tls?.on("tlsClientError", (_err, secure: TLSSocket) => secure.destroy());
    this.#net = createServer((socket) => {
      const entry: Entry = {
        peer: peerOf(socket),
        socket,
        unread: 0,
        open: true,
        endedAt: undefined,
        stalled: undefined,
        calls: 0,
        idleSince: performance.now(),
        session: undefined,
        idleClosed: false,
      };
      this.#byPeer.set(entry.peer, entry);
      // Errors reach HTTP/2 (or TLS) through the socket; this only keeps a
      // socket error before they listen from ending the process.
      socket.on("error", () => undefined);
      socket.once("close", () => this.#closed(entry));
      if (this.#tls === undefined) {
        injector.injectConnection(socket);
        return;
      }
      this.#tls.emit("connection", socket);
    });
    this.#net.maxConnections = limits.maxConnections;
    this.#net.on("drop", () => this.#drop());
  }

  /** Starts listening; resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#net.once("error", reject);
      this.#net.listen({ host, port }, () => {
        this.#net.off("error", reject);
        this.#sweeper = setInterval(() => this.#sweep(), SWEEP_MS);
        this.#sweeper.unref();
        resolve((this.#net.address() as { port: number }).port);
      });
    });
  }

  /** Open connections. */
  get count(): number {
    return this.#byPeer.size;
  }

  /** Unread answer bytes of all connections together. */
  get unread(): number {
    return this.#unread;
  }

  /** The open connection of a call's peer (grpc-js's getPeer()). */
  get(peer: string): GrpcConnection | undefined {
    return this.#byPeer.get(peer);
  }

  /** A call of `connection` has started; `session` is the HTTP/2 session it came on. */
  callStarted(connection: GrpcConnection, session: Http2Session | undefined): void {
    const entry = connection as Entry;
    entry.calls++;
    entry.session ??= session;
  }

  /** A call of `connection` has ended (once for each callStarted). */
  callEnded(connection: GrpcConnection): void {
    const entry = connection as Entry;
    if (--entry.calls === 0) entry.idleSince = performance.now();
  }

  /** Counts `bytes` written to `connection` and not read yet; closes the worst reader when all together hold too much. */
  addUnread(connection: GrpcConnection, bytes: number): void {
    const entry = connection as Entry;
    if (!entry.open || bytes === 0) return;
    entry.unread += bytes;
    this.#unread += bytes;
    if (this.#unread > this.limits.maxUnreadBytes) this.#closeWorstReader();
  }

  /** `bytes` of `connection` have been read (or dropped). */
  removeUnread(connection: GrpcConnection, bytes: number): void {
    const entry = connection as Entry;
    if (!entry.open || bytes === 0) return;
    entry.unread -= bytes;
    this.#unread -= bytes;
  }

  /**
   * The stage that refuses a call at its start when its connection holds
   * more unread answer bytes than its share: RESOURCE_EXHAUSTED with a retry
   * hint. Other clients are not affected.
   */
  readonly stage: CallStage = {
    start: (call: Call) => {
      if (call.api !== "grpc") return;
      const connection = this.#byPeer.get(call.peer);
      if (connection === undefined || connection.unread <= this.limits.maxUnreadBytesPerConnection) return;
      throw shed(
        `this connection has ${connection.unread} bytes of answers it has not read (limit ${this.limits.maxUnreadBytesPerConnection}); read them before calling again`,
      );
    },
  };

  /** Stops accepting connections (open ones stay). */
  stopListening(): void {
    if (this.#net.listening) this.#net.close();
  }

  /** Destroys every socket still open, and stops listening. */
  destroyAll(): void {
    this.stopListening();
    for (const entry of [...this.#byPeer.values()]) entry.socket.destroy();
  }

  /** Stops the lingering-socket checks (after destroyAll, nothing is left to check). */
  dispose(): void {
    clearInterval(this.#sweeper);
  }

  #closed(entry: Entry): void {
    entry.open = false;
    this.#unread -= entry.unread;
    entry.unread = 0;
    if (this.#byPeer.get(entry.peer) === entry) this.#byPeer.delete(entry.peer);
  }

  #closeWorstReader(): void {
    let worst: Entry | undefined;
    for (const entry of this.#byPeer.values()) if (worst === undefined || entry.unread > worst.unread) worst = entry;
    if (worst === undefined || worst.socket.destroyed) return;
    this.#logger.warn(
      { peer: worst.peer, unread: worst.unread, totalUnread: this.#unread, limit: this.limits.maxUnreadBytes },
      "closing the connection that has read least of its answers: unread answers are over the server's limit",
    );
    const socket = worst.socket;
    // Not from inside the write that went over: grpc-js is still on its stack.
    setImmediate(() => socket.destroy());
  }

  #sweep(): void {
    const now = performance.now();
    const { keepaliveTimeMs, keepaliveTimeoutMs, idleTimeoutMs } = this.limits;
    const stallMs = keepaliveTimeMs > 0 ? keepaliveTimeMs + keepaliveTimeoutMs + LINGER_MS : 0;
    for (const entry of this.#byPeer.values()) {
      const { socket } = entry;
      if (socket.destroyed) continue;
      if (idleTimeoutMs > 0 && entry.calls === 0 && !entry.idleClosed && now - entry.idleSince >= idleTimeoutMs) {
        entry.idleClosed = true;
        this.#logger.debug({ peer: entry.peer, idleMs: Math.round(now - entry.idleSince) }, "closing a connection without calls");
        if (entry.session === undefined) {
          socket.destroy();
          continue;
        }
        if (!entry.session.closed) entry.session.close();
      }
      const queued = queuedBytes(socket);
      if (stallMs > 0 && queued > 0) {
        if (entry.stalled?.queued !== queued) entry.stalled = { queued, since: now };
        else if (now - entry.stalled.since >= stallMs) {
          this.#logger.debug({ peer: entry.peer, queued }, "destroying a socket whose writes made no progress");
          socket.destroy();
          continue;
        }
      } else entry.stalled = undefined;
      if (!socket.writableEnded) continue;
      entry.endedAt ??= now;
      if (now - entry.endedAt >= LINGER_MS) {
        this.#logger.debug({ peer: entry.peer }, "destroying a socket that did not finish closing");
        socket.destroy();
      }
    }
  }

  #drop(): void {
    this.#dropped++;
    const now = performance.now();
    if (now - this.#droppedLoggedAt < DROP_LOG_INTERVAL_MS) return;
    this.#droppedLoggedAt = now;
    this.#logger.warn(
      { refused: this.#dropped, maxConnections: this.limits.maxConnections },
      "refusing connections: the gRPC port has as many open connections as it allows",
    );
    this.#dropped = 0;
  }
}

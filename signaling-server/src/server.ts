/**
 * The signaling server: accepts WebSocket connections and owns them (their
 * sockets, rate and strike budgets, heartbeats, join timers and lifecycle),
 * parses every message with the protocol package's `parseClientMessage` and
 * hands it to the part that handles it:
 *
 *   options.ts       defaults, limits and their validation
 *   socket-guard.ts  every TCP socket: server-wide cap, pending per address, header timeout
 *   admission.ts     the HTTP server's front door; upgrades: Origin, connection budget and slots
 *   address-budget.ts  per-address budgets (connections, messages, txs, joins, reads)
 *   intake.ts        each message: rate, size, order behind a verifying join, routing
 *   rooms.ts         the signed join, presence, SDP/ICE relay inside a room
 *   ledger-relay.ts  ledger txs to the LedgerHook, block streaming to subscribers
 *   http-routes.ts   /health, /metrics, /ledger/* (budgeted), the web app
 *
 * One HTTP server carries everything; WebSocket upgrades on any path become
 * signaling connections. Everything a client can do wrong is answered with a
 * stable error code, and a client that keeps doing it wrong is closed with
 * 1008 without touching anyone else.
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloseCode, type ServerMessage, type SignalingErrorCode } from '@peerbench/protocol';
import { WebSocket, type WebSocketServer } from 'ws';
import { AddressBudgets, type BudgetKind } from './address-budget.js';
import { type Admission, createGuardedHttpServer } from './admission.js';
import { ClusteredRooms } from './clustered-rooms.js';
import { errorMessage } from './host.js';
import { HttpRoutes } from './http-routes.js';
import { type IncomingConnection, type IntakeHost, MessageIntake } from './intake.js';
import { LedgerRelay } from './ledger-relay.js';
import { LinkReports } from './link-reports.js';
import { SignalingCounters, type SignalingMetrics, snapshotMetrics } from './metrics.js';
import {
  CHALLENGE_NONCE_BYTES,
  HEARTBEAT_MISSED_PINGS_BEFORE_DROP,
  LISTEN_BACKLOG,
  MAX_SEND_BUFFER_BYTES,
  type ResolvedSignalingServerOptions,
  resolveOptions,
  SignalingServerError,
  type SignalingServerOptions,
} from './options.js';
import { type Membership, Rooms } from './rooms.js';
import { SocketGuard } from './socket-guard.js';
import { StaticFiles } from './static-files.js';
import { TokenBucket } from './token-bucket.js';

/** Codes whose messages count against a connection's abuse-strike budget. */
export const STRIKE_CODES: ReadonlySet<SignalingErrorCode> = new Set<SignalingErrorCode>([
  'invalid-message',
  'message-too-large',
  'rate-limited',
  'bad-signature',
  'not-joined',
  'already-joined',
]);

export interface SignalingServer {
  start(): Promise<void>;
  /** Graceful: stops accepting, lets in-flight work finish, closes every socket with 1001. */
  stop(): Promise<void>;
  /** ws://host:port (valid after start). */
  readonly url: string;
  /** http://host:port (valid after start). */
  readonly httpUrl: string;
  /** The bound port (valid after start; the real one when 0 was asked). */
  readonly port: number;
  readonly options: Readonly<ResolvedSignalingServerOptions>;
  metrics(): SignalingMetrics;
}

/** One signaling WebSocket, from accept to close. */
interface Connection extends IncomingConnection<Connection> {
  readonly socket: WebSocket;
  readonly ip: string;
  readonly nonce: string;
  readonly rate: TokenBucket;
  readonly strikes: TokenBucket;
  membership: Membership<Connection> | null;
  /** A join is verifying; later messages wait in `backlog` to keep their order. */
  busy: boolean;
  readonly backlog: Uint8Array[];
  awaitingPong: boolean;
  missedPings: number;
  joinTimer: NodeJS.Timeout | null;
  closed: boolean;
}

export function createSignalingServer(opts: SignalingServerOptions = {}): SignalingServer {
  return new SignalingServerImpl(resolveOptions(opts));
}

class SignalingServerImpl implements SignalingServer, IntakeHost<Connection> {
  readonly options: Readonly<ResolvedSignalingServerOptions>;
  readonly counters = new SignalingCounters();
  readonly budgets: AddressBudgets;
  private readonly guard: SocketGuard;
  private readonly connections = new Set<Connection>();
  /** Every open or closing socket, including ones refused or closed for abuse, for stop(). */
  private readonly sockets = new Set<WebSocket>();
  private readonly rooms: Rooms<Connection>;
  private readonly ledger: LedgerRelay<Connection>;
  private readonly linkReports: LinkReports<Connection>;
  private readonly routes: HttpRoutes;
  private readonly intake: MessageIntake<Connection>;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly staticFiles: StaticFiles | undefined;
  private http: Server | undefined;
  private wss: WebSocketServer | undefined;
  private admission: Admission | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private boundPort = 0;
  private startedAtMs = 0;
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private stopPromise: Promise<void> | undefined;

  constructor(options: ResolvedSignalingServerOptions) {
    this.options = options;
    this.budgets = new AddressBudgets(options.addressBudgets);
    this.guard = new SocketGuard(options, this.counters);
    this.staticFiles = options.staticDir ? new StaticFiles(options.staticDir) : undefined;
    this.ledger = new LedgerRelay(this, options.ledger);
    this.linkReports = new LinkReports(this, options);
    const onLeave = (conn: Connection) => {
      this.ledger.cancel(conn);
      this.linkReports.drop(conn);
    };
    this.rooms = options.roomBridge
      ? new ClusteredRooms(this, options, onLeave, options.roomBridge)
      : new Rooms(this, options, onLeave);
    this.intake = new MessageIntake(this, this.rooms, this.ledger, this.linkReports);
    this.routes = new HttpRoutes({
      options,
      counters: this.counters,
      staticFiles: this.staticFiles,
      budgets: this.budgets,
      running: () => this.running(),
      metrics: () => this.metrics(),
    });
  }

  get port(): number {
    this.requireStarted();
    return this.boundPort;
  }

  get url(): string {
    return `ws://${this.hostForUrl()}:${this.port}`;
  }

  get httpUrl(): string {
    return `http://${this.hostForUrl()}:${this.port}`;
  }

  private hostForUrl(): string {
    const h = this.options.host;
    return h.includes(':') ? `[${h}]` : h;
  }

  private requireStarted(): void {
    if (this.state === 'new' || this.state === 'starting')
      throw new SignalingServerError('not-started', 'the server has not been started');
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new SignalingServerError('already-started', 'start() was already called');
    this.state = 'starting';
    await this.staticFiles?.init();
    const { http, wss, admission } = createGuardedHttpServer(this, this.guard, (req, res) => {
      void this.routes.handle(req, res);
    });
    this.http = http;
    this.wss = wss;
    this.admission = admission;
    await new Promise<void>((resolveListen, rejectListen) => {
      http.once('error', rejectListen);
      http.listen({ port: this.options.port, host: this.options.host, backlog: LISTEN_BACKLOG }, () => {
        http.off('error', rejectListen);
        resolveListen();
      });
    });
    http.on('error', (err) => this.options.log?.(`http server error: ${err.message}`));
    this.boundPort = (http.address() as AddressInfo).port;
    this.startedAtMs = Date.now();
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.options.heartbeatIntervalMs);
    this.heartbeatTimer.unref();
    this.state = 'running';
  }

  stop(): Promise<void> {
    if (this.state === 'new' || this.state === 'stopped') {
      this.state = 'stopped';
      return Promise.resolve();
    }
    this.stopPromise ??= this.doStop();
    return this.stopPromise;
  }

  private async doStop(): Promise<void> {
    this.state = 'stopping';
    clearInterval(this.heartbeatTimer);
    const http = this.http;
    // Stop accepting new TCP connections first; existing ones finish below.
    const httpClosed = new Promise<void>((done) => (http ? http.close(() => done()) : done()));
    const grace = this.options.shutdownGraceMs;
    await withTimeout(Promise.allSettled([...this.inFlight]), grace);
    const closed = [...this.connections].map(
      (conn) =>
        new Promise<void>((done) => {
          if (conn.closed) return done();
          conn.socket.once('close', () => done());
          this.ledger.cancel(conn);
          conn.socket.close(CloseCode.goingAway, 'server shutting down');
        }),
    );
    await withTimeout(Promise.allSettled(closed), grace);
    for (const ws of this.sockets) ws.terminate();
    this.wss?.close();
    http?.closeIdleConnections();
    this.guard.destroyPending();
    await withTimeout(httpClosed, grace);
    http?.closeAllConnections();
    this.state = 'stopped';
  }

  metrics(): SignalingMetrics {
    return snapshotMetrics(this.counters, {
      connections: this.connections.size,
      rooms: this.rooms.size,
      peers: this.rooms.peerCount(),
      links: this.linkReports.counts(),
      uptimeSeconds: this.startedAtMs === 0 ? 0 : Math.round((Date.now() - this.startedAtMs) / 1000),
      openSockets: this.guard.openSockets,
      pendingSockets: this.guard.pendingSockets,
    });
  }

  opened(ws: WebSocket): void {
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
  }

  running(): boolean {
    return this.state === 'running';
  }

  log(line: string): void {
    this.options.log?.(line);
  }

  // ---- connections ----------------------------------------------------------

  /** Admission (admission.ts) hands over each connection it admitted. */
  accept(ws: WebSocket, ip: string): void {
    const conn: Connection = {
      socket: ws,
      ip,
      nonce: randomBytes(CHALLENGE_NONCE_BYTES).toString('hex'),
      rate: new TokenBucket(this.options.messageRatePerS, this.options.messageBurst),
      strikes: new TokenBucket(
        1000 / this.options.abuseStrikeDecayMs,
        Math.max(1, this.options.maxAbuseStrikes),
      ),
      membership: null,
      busy: false,
      backlog: [],
      awaitingPong: false,
      missedPings: 0,
      joinTimer: null,
      ledgerGeneration: 0,
      ledgerUnsubscribe: null,
      ledgerTxsInFlight: 0,
      closed: false,
    };
    // With a budget of 0 strikes the first strike closes: empty the bucket.
    if (this.options.maxAbuseStrikes === 0) conn.strikes.take();
    this.connections.add(conn);
    this.counters.connectionsAcceptedTotal++;
    ws.on('message', (data, isBinary) => this.intake.receive(conn, data, isBinary));
    ws.on('pong', () => {
      conn.awaitingPong = false;
      conn.missedPings = 0;
    });
    ws.on('close', () => this.onClose(conn));
    this.armJoinTimer(conn);
    this.send(conn, { type: 'challenge', nonce: conn.nonce });
  }

  armJoinTimer(conn: Connection): void {
    if (conn.joinTimer) clearTimeout(conn.joinTimer);
    conn.joinTimer = setTimeout(() => {
      conn.joinTimer = null;
      if (conn.membership || conn.closed) return;
      // A join still verifying gets another full period rather than a race.
      if (conn.busy) return this.armJoinTimer(conn);
      conn.socket.close(CloseCode.joinTimeout, 'join timeout');
    }, this.options.joinTimeoutMs);
    conn.joinTimer.unref();
  }

  clearJoinTimer(conn: Connection): void {
    if (conn.joinTimer) clearTimeout(conn.joinTimer);
    conn.joinTimer = null;
  }

  private onClose(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    this.clearJoinTimer(conn);
    this.ledger.cancel(conn);
    this.connections.delete(conn);
    this.admission?.release(conn.ip);
    this.rooms.leave(conn);
  }

  private heartbeat(): void {
    this.budgets.prune();
    for (const conn of this.connections) {
      if (conn.awaitingPong) {
        conn.missedPings++;
        if (conn.missedPings >= HEARTBEAT_MISSED_PINGS_BEFORE_DROP) {
          this.counters.heartbeatDropsTotal++;
          // terminate(): the peer is unresponsive, a closing handshake would
          // only wait for it. 'close' fires and announces the leave.
          conn.socket.terminate();
          continue;
        }
      }
      conn.awaitingPong = true;
      try {
        conn.socket.ping();
      } catch {
        // The socket is already closing; its 'close' handler cleans up.
      }
    }
  }

  // ---- sending --------------------------------------------------------------

  /** Sends one message; false if the socket is gone or was closed as a slow consumer. */
  send(conn: Connection, msg: ServerMessage): boolean {
    return this.sendText(conn, JSON.stringify(msg));
  }

  sendText(conn: Connection, text: string): boolean {
    const ws = conn.socket;
    if (ws.readyState !== WebSocket.OPEN) return false;
    if (ws.bufferedAmount > MAX_SEND_BUFFER_BYTES) {
      this.closeSlowConsumer(conn);
      return false;
    }
    ws.send(text);
    return true;
  }

  closeSlowConsumer(conn: Connection): void {
    if (conn.socket.readyState !== WebSocket.OPEN) return;
    this.counters.slowConsumerClosesTotal++;
    this.ledger.cancel(conn);
    // terminate, not close: a close frame would queue behind the unread data.
    conn.socket.terminate();
  }

  reject(conn: Connection, code: SignalingErrorCode, message: string, requestId?: string): void {
    this.counters.rejectedMessagesTotal[code]++;
    const msg = errorMessage(code, message);
    this.send(conn, requestId === undefined ? msg : { ...msg, requestId });
    if (STRIKE_CODES.has(code) && !conn.strikes.take()) {
      if (conn.socket.readyState !== WebSocket.OPEN) return;
      this.counters.abuseClosesTotal++;
      conn.backlog.length = 0;
      conn.socket.close(CloseCode.policyViolation, 'too many invalid messages');
      // Stop reading from it and free its room slot now, not after the
      // close handshake; the later 'close' event finds nothing left to do.
      this.onClose(conn);
    }
  }

  spend(conn: Connection, kind: BudgetKind): boolean {
    return this.budgets.take(conn.ip, kind);
  }

  track(work: Promise<unknown>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }
}

// ---- helpers ----------------------------------------------------------------

async function withTimeout(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((done) => (timer = setTimeout(done, ms)))]);
  clearTimeout(timer);
}

/**
 * The signaling server: rooms, the signed join handshake, SDP/ICE relay inside
 * a room, presence, heartbeats, limits, ledger traffic through a pluggable
 * hook, `/health`, `/metrics` and the built web app.
 *
 * One HTTP server carries everything; WebSocket upgrades on any path become
 * signaling connections. All wire input goes through the protocol package's
 * `parseClientMessage`; everything a client can do wrong is answered with a
 * stable error code, and a client that keeps doing it wrong is closed with
 * 1008 without touching anyone else.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { type BlockJson, fromHex, publicKeyFromPeerId, splitBlock, verifySignature } from '@peerbench/ledger';
import {
  type ClientMessage,
  type IceServer,
  joinChallengeBytes,
  MAX_SIGNALING_MESSAGE_BYTES,
  type PeerInfo,
  parseClientMessage,
  type ServerMessage,
  type SignalingErrorCode,
  SignalingMessageError,
} from '@peerbench/protocol';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { renderPrometheus, SignalingCounters, type SignalingMetrics, snapshotMetrics } from './metrics.js';
import { StaticFiles } from './static-files.js';
import { TokenBucket } from './token-bucket.js';

// ---- defaults (every limit is an option; these are what `start` uses) ------

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8787;
/** The issue's heartbeat: a ping every 15 s. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 15_000;
/** A client that leaves this many pings in a row unanswered is dropped. */
export const HEARTBEAT_MISSED_PINGS_BEFORE_DROP = 2;
/**
 * Sustained messages per second per connection. A peer meeting 20 others
 * trickles ~10 ICE candidates each plus offers/answers, so bursts of a few
 * hundred are normal at join time; the steady state is near zero.
 */
export const DEFAULT_MESSAGE_RATE_PER_S = 100;
export const DEFAULT_MESSAGE_BURST = 300;
export const DEFAULT_MAX_PEERS_PER_ROOM = 256;
/**
 * `welcome` lists every other member (~106 bytes each) and must fit in
 * MAX_SIGNALING_MESSAGE_BYTES, which clients enforce: 500 members ≈ 53 KB.
 */
export const MAX_PEERS_PER_ROOM_CEILING = 500;
export const DEFAULT_MAX_ROOMS = 1_000;
/** Generous for a classroom behind one NAT, small enough to stop one host hogging the server. */
export const DEFAULT_MAX_CONNECTIONS_PER_IP = 64;
export const DEFAULT_MAX_CONNECTIONS = 10_000;
/** Strikes tolerated; the next one closes the connection with 1008. */
export const DEFAULT_MAX_ABUSE_STRIKES = 10;
/** One strike is forgiven per interval, so rare mistakes never add up to a close. */
export const DEFAULT_ABUSE_STRIKE_DECAY_MS = 60_000;
/** A connection that has not joined a room by then is closed with 4001. */
export const DEFAULT_JOIN_TIMEOUT_MS = 30_000;
/** How long `stop()` waits for in-flight work and for clients to close. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 5_000;
/**
 * ws's own hard cap. Messages between MAX_SIGNALING_MESSAGE_BYTES and this get
 * a `message-too-large` error reply (and a strike); anything larger is never
 * buffered: ws closes the socket with 1009 as soon as the frame header says so.
 */
export const HARD_MAX_PAYLOAD_BYTES = 4 * MAX_SIGNALING_MESSAGE_BYTES;
/** A client that lets this much pile up unread is closed (1013) instead of growing our memory. */
export const MAX_SEND_BUFFER_BYTES = 4 * 1024 * 1024;
/** Messages queued behind a join that is still verifying its signature. */
export const MAX_BACKLOG_MESSAGES = 64;
/** Ledger transactions awaiting the hook, per connection. */
export const MAX_INFLIGHT_LEDGER_TXS_PER_CONNECTION = 16;
/** Blocks per `blocksFrom` page when catching a subscriber up. */
export const LEDGER_PAGE_BLOCKS = 64;
/** Catch-up pauses while more than this is buffered for the subscriber. */
export const LEDGER_CATCH_UP_BUFFER_BYTES = 256 * 1024;
/** Live blocks held while a subscriber is still catching up; beyond that it is closed (1013). */
export const MAX_LEDGER_LIVE_BACKLOG_BLOCKS = 1_024;
const LEDGER_DRAIN_POLL_MS = 20;
/**
 * Per client address, for /ledger/* HTTP requests (reads). A dashboard polls
 * a few routes every block; a browser page catching up pages /ledger/blocks.
 */
export const DEFAULT_LEDGER_HTTP_RATE_PER_S = 20;
export const DEFAULT_LEDGER_HTTP_BURST = 100;
/** Per client address, for POST /ledger/tx on top of the above (every tx costs a signature check). */
export const DEFAULT_LEDGER_TX_HTTP_RATE_PER_S = 5;
export const DEFAULT_LEDGER_TX_HTTP_BURST = 40;
/** Addresses whose HTTP buckets are kept; beyond that the oldest is forgotten (memory bound). */
export const MAX_HTTP_RATE_LIMITED_ADDRESSES = 65_536;
/** Room left in a signaling message for the `{"type":"ledger-block","block":…}` envelope around a block part. */
const LEDGER_BLOCK_ENVELOPE_BYTES = 256;
/** Bytes of the server nonce (hex doubles it; the protocol wants 32-128 hex chars). */
export const CHALLENGE_NONCE_BYTES = 16;

// ---- close codes ------------------------------------------------------------

export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_POLICY_VIOLATION = 1008;
export const CLOSE_MESSAGE_TOO_BIG = 1009;
export const CLOSE_TRY_AGAIN_LATER = 1013;
/** Another connection proved the same identity in the same room; do not reconnect automatically. */
export const CLOSE_REPLACED = 4000;
export const CLOSE_JOIN_TIMEOUT = 4001;

/** Codes whose messages count against a connection's abuse-strike budget. */
export const STRIKE_CODES: ReadonlySet<SignalingErrorCode> = new Set<SignalingErrorCode>([
  'invalid-message',
  'message-too-large',
  'rate-limited',
  'bad-signature',
  'not-joined',
  'already-joined',
]);

// ---- the ledger seam --------------------------------------------------------

/**
 * How a ledger plugs into the server without the server knowing its types.
 * Blocks travel in the ledger's JSON form; a numeric `height` field on them
 * (when present) lets the server drop duplicates at the catch-up/live seam.
 */
export interface LedgerHook {
  submitTx(tx: unknown): Promise<{ ok: true } | { ok: false; code: string; message: string }>;
  /** Blocks in JSON form from height `from` on (bounded by limit). */
  blocksFrom(fromHeight: number, limit: number): Promise<unknown[]>;
  /** Called with each new block in JSON form; returns unsubscribe. */
  onBlock(cb: (block: unknown) => void): () => void;
  /** Handles /ledger/* HTTP routes; resolves true if it answered. */
  handleHttp(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
}

// ---- options ----------------------------------------------------------------

export interface SignalingServerOptions {
  /** Interface to listen on; default DEFAULT_HOST (loopback only). */
  host?: string;
  /** TCP port; 0 picks a free one. Default DEFAULT_PORT. */
  port?: number;
  /** Handed to every client in `welcome`; none by default (loopback needs none). */
  iceServers?: readonly IceServer[];
  /** When set, each welcome's ICE servers come from here instead (fresh TURN credentials: turn-credentials.ts). */
  iceServersForPeer?: (peerId: string) => IceServer[];
  heartbeatIntervalMs?: number;
  /** Largest accepted message; at most the protocol's MAX_SIGNALING_MESSAGE_BYTES. */
  maxMessageBytes?: number;
  messageRatePerS?: number;
  messageBurst?: number;
  maxPeersPerRoom?: number;
  maxRooms?: number;
  maxConnectionsPerIp?: number;
  maxConnections?: number;
  maxAbuseStrikes?: number;
  abuseStrikeDecayMs?: number;
  joinTimeoutMs?: number;
  shutdownGraceMs?: number;
  /** Directory of the built web app to serve (index.html for unknown routes). */
  staticDir?: string;
  /** The ledger; without one, ledger messages get `ledger-unavailable`. */
  ledger?: LedgerHook;
  /** /ledger/* HTTP requests per second and burst, per client address; over it: 429 `rate-limited`. */
  ledgerHttpRatePerS?: number;
  ledgerHttpBurst?: number;
  /** POST /ledger/tx per second and burst, per client address (also counts against the above). */
  ledgerTxHttpRatePerS?: number;
  ledgerTxHttpBurst?: number;
  /** Count connections per the last X-Forwarded-For hop (only behind your own reverse proxy). */
  trustProxy?: boolean;
  /** Where operational log lines go; default: nowhere. */
  log?: (line: string) => void;
}

export type ResolvedSignalingServerOptions = Required<
  Omit<SignalingServerOptions, 'staticDir' | 'ledger' | 'log' | 'iceServersForPeer'>
> &
  Pick<SignalingServerOptions, 'staticDir' | 'ledger' | 'log' | 'iceServersForPeer'>;

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

export class SignalingServerError extends Error {
  readonly code: 'invalid-options' | 'not-started' | 'already-started';
  constructor(code: SignalingServerError['code'], message: string) {
    super(message);
    this.name = 'SignalingServerError';
    this.code = code;
  }
}

export function resolveOptions(opts: SignalingServerOptions = {}): ResolvedSignalingServerOptions {
  const r: ResolvedSignalingServerOptions = {
    host: opts.host ?? DEFAULT_HOST,
    port: opts.port ?? DEFAULT_PORT,
    iceServers: opts.iceServers ?? [],
    heartbeatIntervalMs: opts.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS,
    maxMessageBytes: opts.maxMessageBytes ?? MAX_SIGNALING_MESSAGE_BYTES,
    messageRatePerS: opts.messageRatePerS ?? DEFAULT_MESSAGE_RATE_PER_S,
    messageBurst: opts.messageBurst ?? DEFAULT_MESSAGE_BURST,
    maxPeersPerRoom: opts.maxPeersPerRoom ?? DEFAULT_MAX_PEERS_PER_ROOM,
    maxRooms: opts.maxRooms ?? DEFAULT_MAX_ROOMS,
    maxConnectionsPerIp: opts.maxConnectionsPerIp ?? DEFAULT_MAX_CONNECTIONS_PER_IP,
    maxConnections: opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    maxAbuseStrikes: opts.maxAbuseStrikes ?? DEFAULT_MAX_ABUSE_STRIKES,
    abuseStrikeDecayMs: opts.abuseStrikeDecayMs ?? DEFAULT_ABUSE_STRIKE_DECAY_MS,
    joinTimeoutMs: opts.joinTimeoutMs ?? DEFAULT_JOIN_TIMEOUT_MS,
    shutdownGraceMs: opts.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS,
    ledgerHttpRatePerS: opts.ledgerHttpRatePerS ?? DEFAULT_LEDGER_HTTP_RATE_PER_S,
    ledgerHttpBurst: opts.ledgerHttpBurst ?? DEFAULT_LEDGER_HTTP_BURST,
    ledgerTxHttpRatePerS: opts.ledgerTxHttpRatePerS ?? DEFAULT_LEDGER_TX_HTTP_RATE_PER_S,
    ledgerTxHttpBurst: opts.ledgerTxHttpBurst ?? DEFAULT_LEDGER_TX_HTTP_BURST,
    trustProxy: opts.trustProxy ?? false,
    staticDir: opts.staticDir,
    ledger: opts.ledger,
    log: opts.log,
    iceServersForPeer: opts.iceServersForPeer,
  };
  const positiveInts: (keyof ResolvedSignalingServerOptions)[] = [
    'heartbeatIntervalMs',
    'maxMessageBytes',
    'messageBurst',
    'maxPeersPerRoom',
    'maxRooms',
    'maxConnectionsPerIp',
    'maxConnections',
    'abuseStrikeDecayMs',
    'joinTimeoutMs',
    'ledgerHttpBurst',
    'ledgerTxHttpBurst',
  ];
  for (const key of positiveInts) {
    const value = r[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
      throw new SignalingServerError('invalid-options', `${key} must be a positive integer, got ${value}`);
  }
  if (!Number.isInteger(r.port) || r.port < 0 || r.port > 65_535)
    throw new SignalingServerError('invalid-options', `port must be 0-65535, got ${r.port}`);
  for (const key of ['messageRatePerS', 'ledgerHttpRatePerS', 'ledgerTxHttpRatePerS'] as const)
    if (!(r[key] > 0) || !Number.isFinite(r[key]))
      throw new SignalingServerError('invalid-options', `${key} must be a finite number > 0`);
  if (!Number.isInteger(r.maxAbuseStrikes) || r.maxAbuseStrikes < 0)
    throw new SignalingServerError('invalid-options', 'maxAbuseStrikes must be an integer >= 0');
  if (!(r.shutdownGraceMs >= 0))
    throw new SignalingServerError('invalid-options', 'shutdownGraceMs must be >= 0');
  if (r.maxMessageBytes > MAX_SIGNALING_MESSAGE_BYTES)
    throw new SignalingServerError(
      'invalid-options',
      `maxMessageBytes cannot exceed the protocol's ${MAX_SIGNALING_MESSAGE_BYTES}: clients would reject the echo`,
    );
  if (r.maxPeersPerRoom > MAX_PEERS_PER_ROOM_CEILING)
    throw new SignalingServerError(
      'invalid-options',
      `maxPeersPerRoom cannot exceed ${MAX_PEERS_PER_ROOM_CEILING}: the welcome message would outgrow the protocol's size limit`,
    );
  return r;
}

// ---- state ------------------------------------------------------------------

interface Room {
  readonly name: string;
  readonly members: Map<string, Connection>;
}

interface Membership {
  readonly room: Room;
  readonly peerId: string;
  readonly joinedAtMs: number;
}

interface Connection {
  readonly socket: WebSocket;
  readonly ip: string;
  readonly nonce: string;
  readonly rate: TokenBucket;
  readonly strikes: TokenBucket;
  membership: Membership | null;
  /** A join is verifying; later messages wait in `backlog` to keep their order. */
  busy: boolean;
  readonly backlog: Uint8Array[];
  awaitingPong: boolean;
  missedPings: number;
  joinTimer: NodeJS.Timeout | null;
  /** Bumped on every (re)subscribe and on leave so stale catch-ups stop. */
  ledgerGeneration: number;
  ledgerUnsubscribe: (() => void) | null;
  ledgerTxsInFlight: number;
  closed: boolean;
}

export function createSignalingServer(opts: SignalingServerOptions = {}): SignalingServer {
  return new SignalingServerImpl(resolveOptions(opts));
}

class SignalingServerImpl implements SignalingServer {
  readonly options: Readonly<ResolvedSignalingServerOptions>;
  private readonly counters = new SignalingCounters();
  private readonly connections = new Set<Connection>();
  /** Every open or closing socket, including ones refused or closed for abuse, for stop(). */
  private readonly sockets = new Set<WebSocket>();
  private readonly connectionsPerIp = new Map<string, number>();
  /** HTTP token buckets per client address (insertion order = age, for the memory bound). */
  private readonly httpBuckets = new Map<string, { ledger: TokenBucket; tx: TokenBucket }>();
  private readonly rooms = new Map<string, Room>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly staticFiles: StaticFiles | undefined;
  private http: Server | undefined;
  private wss: WebSocketServer | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private boundPort = 0;
  private startedAtMs = 0;
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private stopPromise: Promise<void> | undefined;

  constructor(options: ResolvedSignalingServerOptions) {
    this.options = options;
    this.staticFiles = options.staticDir ? new StaticFiles(options.staticDir) : undefined;
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
    const http = createServer((req, res) => void this.onHttp(req, res));
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: HARD_MAX_PAYLOAD_BYTES,
      // Compression costs CPU and memory per socket for tiny SDP messages.
      perMessageDeflate: false,
    });
    http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    // Malformed HTTP from a client must not become an unhandled error.
    http.on('clientError', (_err, socket) => socket.destroy());
    this.http = http;
    this.wss = wss;
    await new Promise<void>((resolveListen, rejectListen) => {
      http.once('error', rejectListen);
      http.listen(this.options.port, this.options.host, () => {
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
          this.cancelLedger(conn);
          conn.socket.close(CLOSE_GOING_AWAY, 'server shutting down');
        }),
    );
    await withTimeout(Promise.allSettled(closed), grace);
    for (const ws of this.sockets) ws.terminate();
    this.wss?.close();
    http?.closeIdleConnections();
    await withTimeout(httpClosed, grace);
    http?.closeAllConnections();
    this.state = 'stopped';
  }

  metrics(): SignalingMetrics {
    let peers = 0;
    for (const room of this.rooms.values()) peers += room.members.size;
    return snapshotMetrics(this.counters, {
      connections: this.connections.size,
      rooms: this.rooms.size,
      peers,
      uptimeSeconds: this.startedAtMs === 0 ? 0 : Math.round((Date.now() - this.startedAtMs) / 1000),
    });
  }

  // ---- HTTP -----------------------------------------------------------------

  private async onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
      const method = req.method ?? 'GET';
      if (pathname === '/health' && (method === 'GET' || method === 'HEAD')) {
        const m = this.metrics();
        return sendJson(res, 200, {
          ok: this.state === 'running',
          uptimeSeconds: m.uptimeSeconds,
          connections: m.connections,
          rooms: m.rooms,
          peers: m.peers,
        });
      }
      if (pathname === '/metrics' && (method === 'GET' || method === 'HEAD')) {
        const body = renderPrometheus(this.metrics(), process.memoryUsage.rss());
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(method === 'HEAD' ? undefined : body);
        return;
      }
      if (pathname === '/ledger' || pathname.startsWith('/ledger/')) {
        const limited = this.httpRateLimit(req, pathname === '/ledger/tx' && method === 'POST');
        if (limited !== undefined) {
          this.counters.httpRateLimitedTotal++;
          req.resume(); // drain an unread body so the connection can be reused
          res.setHeader('Retry-After', String(limited));
          return sendJson(res, 429, {
            ok: false,
            code: 'rate-limited',
            message: `too many /ledger requests from this address; retry in ${limited} s`,
          });
        }
        const ledger = this.options.ledger;
        if (!ledger) return sendJson(res, 503, { error: 'ledger-unavailable' });
        const answered = await ledger.handleHttp(req, res);
        if (!answered && !res.headersSent) sendJson(res, 404, { error: 'not-found' });
        return;
      }
      if (this.staticFiles && (method === 'GET' || method === 'HEAD')) {
        const result = await this.staticFiles.serve(pathname, req, res);
        if (result === 'served') return;
        if (result === 'bad-request') return sendJson(res, 400, { error: 'bad-request' });
        if (result === 'forbidden') return sendJson(res, 403, { error: 'forbidden' });
      }
      sendJson(res, 404, { error: 'not-found' });
    } catch (err) {
      this.options.log?.(`http handler failed: ${(err as Error).message}`);
      if (!res.headersSent) sendJson(res, 500, { error: 'internal' });
      else res.destroy();
    }
  }

  /**
   * Takes a token for a /ledger request from this address (and one from the
   * tx bucket for POST /ledger/tx). Undefined when allowed, else the seconds
   * until a token is back (for Retry-After).
   */
  private httpRateLimit(req: IncomingMessage, isTx: boolean): number | undefined {
    const ip = this.clientIp(req);
    const o = this.options;
    let b = this.httpBuckets.get(ip);
    if (!b) {
      if (this.httpBuckets.size >= MAX_HTTP_RATE_LIMITED_ADDRESSES) {
        const oldest = this.httpBuckets.keys().next().value;
        if (oldest !== undefined) this.httpBuckets.delete(oldest);
      }
      b = {
        ledger: new TokenBucket(o.ledgerHttpRatePerS, o.ledgerHttpBurst),
        tx: new TokenBucket(o.ledgerTxHttpRatePerS, o.ledgerTxHttpBurst),
      };
      this.httpBuckets.set(ip, b);
    }
    // Check the tx bucket first so a refused tx does not also spend a read token.
    if (isTx && b.tx.available() < 1) return Math.max(1, Math.ceil(1 / o.ledgerTxHttpRatePerS));
    if (!b.ledger.take()) return Math.max(1, Math.ceil(1 / o.ledgerHttpRatePerS));
    if (isTx) b.tx.take();
    return undefined;
  }

  /** Forgets addresses whose buckets are full again (idle clients cost no memory). */
  private pruneHttpBuckets(): void {
    const o = this.options;
    for (const [ip, b] of this.httpBuckets)
      if (b.ledger.available() >= o.ledgerHttpBurst && b.tx.available() >= o.ledgerTxHttpBurst)
        this.httpBuckets.delete(ip);
  }

  // ---- connections ----------------------------------------------------------

  private clientIp(req: IncomingMessage): string {
    if (this.options.trustProxy) {
      const forwarded = req.headers['x-forwarded-for'];
      const value = Array.isArray(forwarded) ? forwarded.at(-1) : forwarded;
      const last = value?.split(',').at(-1)?.trim();
      if (last) return last;
    }
    return req.socket.remoteAddress ?? 'unknown';
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const wss = this.wss;
    if (!wss || this.state !== 'running') {
      socket.destroy();
      return;
    }
    socket.on('error', () => socket.destroy());
    wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, this.clientIp(req)));
  }

  private onConnection(ws: WebSocket, ip: string): void {
    // ws emits 'error' (e.g. payload over maxPayload) before closing; without
    // a listener that would crash the process.
    ws.on('error', () => {});
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
    if (this.state !== 'running') {
      ws.close(CLOSE_GOING_AWAY, 'server shutting down');
      return;
    }
    const perIp = this.connectionsPerIp.get(ip) ?? 0;
    if (perIp >= this.options.maxConnectionsPerIp || this.connections.size >= this.options.maxConnections) {
      // Accept, explain with a stable code, close: browsers cannot see an
      // HTTP status on a refused upgrade, but they do see this message.
      this.counters.rejectedMessagesTotal['too-many-connections']++;
      const reason =
        perIp >= this.options.maxConnectionsPerIp
          ? `at most ${this.options.maxConnectionsPerIp} connections per address`
          : `the server is at its ${this.options.maxConnections} connections`;
      ws.send(JSON.stringify(errorMessage('too-many-connections', reason)));
      ws.close(CLOSE_TRY_AGAIN_LATER, 'too many connections');
      return;
    }
    this.connectionsPerIp.set(ip, perIp + 1);
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
    ws.on('message', (data, isBinary) => this.onRaw(conn, data, isBinary));
    ws.on('pong', () => {
      conn.awaitingPong = false;
      conn.missedPings = 0;
    });
    ws.on('close', () => this.onClose(conn));
    this.armJoinTimer(conn);
    this.send(conn, { type: 'challenge', nonce: conn.nonce });
  }

  private armJoinTimer(conn: Connection): void {
    if (conn.joinTimer) clearTimeout(conn.joinTimer);
    conn.joinTimer = setTimeout(() => {
      conn.joinTimer = null;
      if (conn.membership || conn.closed) return;
      // A join still verifying gets another full period rather than a race.
      if (conn.busy) return this.armJoinTimer(conn);
      conn.socket.close(CLOSE_JOIN_TIMEOUT, 'join timeout');
    }, this.options.joinTimeoutMs);
    conn.joinTimer.unref();
  }

  private onClose(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    if (conn.joinTimer) clearTimeout(conn.joinTimer);
    this.cancelLedger(conn);
    this.connections.delete(conn);
    const perIp = (this.connectionsPerIp.get(conn.ip) ?? 1) - 1;
    if (perIp <= 0) this.connectionsPerIp.delete(conn.ip);
    else this.connectionsPerIp.set(conn.ip, perIp);
    this.removeMember(conn);
  }

  private heartbeat(): void {
    this.pruneHttpBuckets();
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

  // ---- messages -------------------------------------------------------------

  private onRaw(conn: Connection, data: RawData, isBinary: boolean): void {
    if (conn.closed || this.state !== 'running') return;
    this.counters.messagesReceivedTotal++;
    if (!conn.rate.take()) {
      this.reject(conn, 'rate-limited', `more than ${this.options.messageRatePerS} messages/s`);
      return;
    }
    const size = rawByteLength(data);
    if (size > this.options.maxMessageBytes) {
      this.reject(
        conn,
        'message-too-large',
        `message is ${size} bytes; the limit is ${this.options.maxMessageBytes}`,
      );
      return;
    }
    if (isBinary) {
      this.reject(conn, 'invalid-message', 'binary frames are not accepted; send JSON text');
      return;
    }
    // Bytes, not a string: the protocol parser then skips re-encoding to
    // measure the size (about a third of the parse cost of a small signal).
    const bytes = rawToBytes(data);
    if (conn.busy) {
      if (conn.backlog.length >= MAX_BACKLOG_MESSAGES) {
        this.reject(conn, 'rate-limited', 'too many messages while the join is being verified');
        return;
      }
      conn.backlog.push(bytes);
      return;
    }
    this.handle(conn, bytes);
  }

  /** Handles one message; a join makes the connection busy until verified. */
  private handle(conn: Connection, raw: Uint8Array): void {
    let msg: ClientMessage;
    try {
      msg = parseClientMessage(raw);
    } catch (err) {
      if (err instanceof SignalingMessageError) this.reject(conn, err.code, err.message);
      else this.reject(conn, 'invalid-message', 'message could not be parsed');
      return;
    }
    try {
      switch (msg.type) {
        case 'join': {
          conn.busy = true;
          const work = this.join(conn, msg)
            .catch((err: unknown) => {
              this.options.log?.(`join failed: ${(err as Error).message}`);
              this.reject(conn, 'internal', 'join failed on the server');
            })
            .finally(() => {
              conn.busy = false;
              this.drainBacklog(conn);
            });
          this.track(work);
          return;
        }
        case 'leave':
          if (!conn.membership) {
            this.reject(conn, 'not-joined', 'leave before join');
            return;
          }
          this.removeMember(conn);
          this.armJoinTimer(conn);
          return;
        case 'signal':
          this.relay(conn, msg.to, msg.data);
          return;
        case 'ledger-tx':
          this.ledgerTx(conn, msg.requestId, msg.tx);
          return;
        case 'ledger-subscribe':
          this.ledgerSubscribe(conn, msg.fromHeight);
          return;
      }
    } catch (err) {
      this.options.log?.(`handler failed: ${(err as Error).message}`);
      this.reject(conn, 'internal', 'the server failed to handle this message');
    }
  }

  private drainBacklog(conn: Connection): void {
    while (!conn.busy && !conn.closed && this.state === 'running') {
      const next = conn.backlog.shift();
      if (next === undefined) return;
      this.handle(conn, next);
    }
  }

  private async join(conn: Connection, msg: Extract<ClientMessage, { type: 'join' }>): Promise<void> {
    if (conn.membership) {
      this.reject(conn, 'already-joined', `already joined room ${conn.membership.room.name}; leave first`);
      return;
    }
    let valid = false;
    try {
      valid = await verifySignature(
        publicKeyFromPeerId(msg.peerId),
        joinChallengeBytes(msg.room, conn.nonce),
        fromHex(msg.signature),
      );
    } catch {
      valid = false;
    }
    if (conn.closed || this.state !== 'running') return;
    if (!valid) {
      this.reject(conn, 'bad-signature', 'signature does not verify for this peer id, room and nonce');
      return;
    }
    let room = this.rooms.get(msg.room);
    const previous = room?.members.get(msg.peerId);
    if (!room && this.rooms.size >= this.options.maxRooms) {
      this.reject(conn, 'too-many-rooms', `the server is at its ${this.options.maxRooms} rooms`);
      return;
    }
    if (room && !previous && room.members.size >= this.options.maxPeersPerRoom) {
      this.reject(conn, 'room-full', `room ${msg.room} has ${this.options.maxPeersPerRoom} peers`);
      return;
    }
    if (previous) {
      // The newcomer proved the key with a fresh nonce just now; the old
      // socket is most likely a half-dead one from before a reconnect that
      // the heartbeat has not caught yet. Keeping the old one would lock the
      // real owner out for up to three heartbeat intervals.
      this.send(
        previous,
        errorMessage('duplicate-peer', 'this peer id joined the room on another connection'),
      );
      this.removeMember(previous);
      previous.socket.close(CLOSE_REPLACED, 'replaced');
    }
    if (!room) {
      room = { name: msg.room, members: new Map() };
      this.rooms.set(msg.room, room);
    }
    const membership: Membership = { room, peerId: msg.peerId, joinedAtMs: Date.now() };
    const peers: PeerInfo[] = [];
    for (const [peerId, member] of room.members) {
      if (member.membership) peers.push({ peerId, joinedAtMs: member.membership.joinedAtMs });
    }
    room.members.set(msg.peerId, conn);
    conn.membership = membership;
    if (conn.joinTimer) {
      clearTimeout(conn.joinTimer);
      conn.joinTimer = null;
    }
    this.send(conn, {
      type: 'welcome',
      peerId: msg.peerId,
      room: msg.room,
      peers,
      iceServers: this.options.iceServersForPeer?.(msg.peerId) ?? [...this.options.iceServers],
      heartbeatIntervalMs: this.options.heartbeatIntervalMs,
    });
    this.broadcast(room, conn, {
      type: 'peer-joined',
      peer: { peerId: msg.peerId, joinedAtMs: membership.joinedAtMs },
    });
  }

  /** Takes `conn` out of its room (if any) and tells the others. */
  private removeMember(conn: Connection): void {
    const membership = conn.membership;
    if (!membership) return;
    conn.membership = null;
    this.cancelLedger(conn);
    const { room, peerId } = membership;
    if (room.members.get(peerId) === conn) room.members.delete(peerId);
    if (room.members.size === 0) {
      if (this.rooms.get(room.name) === room) this.rooms.delete(room.name);
      return;
    }
    this.broadcast(room, conn, { type: 'peer-left', peerId });
  }

  private relay(
    conn: Connection,
    to: string,
    data: Extract<ClientMessage, { type: 'signal' }>['data'],
  ): void {
    const membership = conn.membership;
    if (!membership) {
      this.reject(conn, 'not-joined', 'join a room before signaling');
      return;
    }
    const target = to === membership.peerId ? undefined : membership.room.members.get(to);
    // Not a strike: the target may have left a moment ago.
    if (!target) {
      this.reject(conn, 'unknown-peer', `no peer ${to} in room ${membership.room.name}`);
      return;
    }
    const text = JSON.stringify({ type: 'signal', from: membership.peerId, data } satisfies ServerMessage);
    // `from` is two bytes longer than `to`: a message just under the limit
    // could come out just over it, and the target would refuse it.
    if (
      text.length * 3 > MAX_SIGNALING_MESSAGE_BYTES &&
      Buffer.byteLength(text) > MAX_SIGNALING_MESSAGE_BYTES
    ) {
      this.reject(conn, 'message-too-large', 'the relayed signal would exceed the message limit');
      return;
    }
    if (this.sendText(target, text)) this.counters.relayedMessagesTotal++;
  }

  // ---- ledger ---------------------------------------------------------------

  private ledgerTx(conn: Connection, requestId: string, tx: unknown): void {
    if (!conn.membership) {
      this.reject(conn, 'not-joined', 'join a room before sending ledger txs', requestId);
      return;
    }
    const ledger = this.options.ledger;
    if (!ledger) {
      this.reject(conn, 'ledger-unavailable', 'this server runs no ledger', requestId);
      return;
    }
    if (conn.ledgerTxsInFlight >= MAX_INFLIGHT_LEDGER_TXS_PER_CONNECTION) {
      const why = `at most ${MAX_INFLIGHT_LEDGER_TXS_PER_CONNECTION} ledger txs in flight`;
      this.reject(conn, 'rate-limited', why, requestId);
      return;
    }
    conn.ledgerTxsInFlight++;
    // Not serialized behind each other: submitTx is called in arrival order,
    // and a slow ledger must not hold up this client's signaling.
    const work = (async () => {
      let result: ServerMessage;
      try {
        const r = await ledger.submitTx(tx);
        if (r.ok) {
          this.counters.ledgerTxsTotal.accepted++;
          result = { type: 'ledger-tx-result', requestId, ok: true };
        } else {
          this.counters.ledgerTxsTotal.rejected++;
          result = {
            type: 'ledger-tx-result',
            requestId,
            ok: false,
            code: String(r.code).slice(0, 64),
            message: String(r.message).slice(0, 1024),
          };
        }
      } catch (err) {
        this.counters.ledgerTxsTotal.failed++;
        this.options.log?.(`ledger submitTx failed: ${(err as Error).message}`);
        result = {
          type: 'ledger-tx-result',
          requestId,
          ok: false,
          code: 'internal',
          message: 'the ledger failed',
        };
      } finally {
        conn.ledgerTxsInFlight--;
      }
      this.send(conn, result);
    })();
    this.track(work);
  }

  private cancelLedger(conn: Connection): void {
    conn.ledgerGeneration++;
    conn.ledgerUnsubscribe?.();
    conn.ledgerUnsubscribe = null;
  }

  private ledgerSubscribe(conn: Connection, fromHeight: number): void {
    if (!conn.membership) {
      this.reject(conn, 'not-joined', 'join a room before subscribing to blocks');
      return;
    }
    const ledger = this.options.ledger;
    if (!ledger) {
      this.reject(conn, 'ledger-unavailable', 'this server runs no ledger');
      return;
    }
    // A new subscription replaces the previous one (e.g. a client that
    // resubscribes after detecting a gap).
    this.cancelLedger(conn);
    const generation = conn.ledgerGeneration;
    const current = () => conn.ledgerGeneration === generation && !conn.closed && this.state === 'running';
    let nextHeight = fromHeight;
    let live = false;
    const heldWhileCatchingUp: unknown[] = [];
    const sendBlock = (block: unknown) => {
      const height = blockHeight(block);
      if (height !== undefined) {
        if (height < nextHeight) return; // already sent during catch-up
        nextHeight = height + 1;
      }
      const text = JSON.stringify({ type: 'ledger-block', block } satisfies ServerMessage);
      if (Buffer.byteLength(text) <= MAX_SIGNALING_MESSAGE_BYTES) {
        if (this.sendText(conn, text)) this.counters.ledgerBlocksSentTotal++;
        return;
      }
      // Clients refuse messages over the protocol limit: a block of a few
      // hundred txs goes out in parts that the client's RemoteChain
      // reassembles (packages/ledger/src/block-parts.ts) before verifying.
      const parts = splitLedgerBlock(block);
      if (parts) {
        for (const part of parts) if (!this.sendText(conn, part)) return;
        this.counters.ledgerBlocksSentTotal++;
        this.counters.ledgerBlocksSentInPartsTotal++;
        return;
      }
      // Not a ledger block we can split: announce it as missing instead of silently dropping it.
      this.counters.ledgerBlocksOversizedTotal++;
      this.reject(
        conn,
        'internal',
        `block ${height ?? '?'} exceeds the message limit; fetch it over /ledger`,
      );
    };
    // Subscribe before paging so no block made during catch-up is missed.
    conn.ledgerUnsubscribe = ledger.onBlock((block) => {
      if (!current()) return;
      if (live) return sendBlock(block);
      if (heldWhileCatchingUp.length >= MAX_LEDGER_LIVE_BACKLOG_BLOCKS) {
        this.closeSlowConsumer(conn);
        return;
      }
      heldWhileCatchingUp.push(block);
    });
    const work = (async () => {
      for (;;) {
        const page = await ledger.blocksFrom(nextHeight, LEDGER_PAGE_BLOCKS);
        if (!current()) return;
        for (const block of page) {
          sendBlock(block);
          // Pace the catch-up by what the client actually reads (per block:
          // one block sent in parts can be megabytes).
          while (conn.socket.bufferedAmount > LEDGER_CATCH_UP_BUFFER_BYTES && current())
            await delay(LEDGER_DRAIN_POLL_MS);
          if (!current()) return;
        }
        if (page.length < LEDGER_PAGE_BLOCKS) break;
      }
      for (const block of heldWhileCatchingUp) sendBlock(block);
      heldWhileCatchingUp.length = 0;
      live = true;
    })().catch((err: unknown) => {
      if (!current()) return;
      this.options.log?.(`ledger catch-up failed: ${(err as Error).message}`);
      this.cancelLedger(conn);
      this.reject(conn, 'internal', 'the ledger failed to list blocks; subscribe again');
    });
    this.track(work);
  }

  // ---- sending --------------------------------------------------------------

  /** Sends one message; false if the socket is gone or was closed as a slow consumer. */
  private send(conn: Connection, msg: ServerMessage): boolean {
    return this.sendText(conn, JSON.stringify(msg));
  }

  private sendText(conn: Connection, text: string): boolean {
    const ws = conn.socket;
    if (ws.readyState !== WebSocket.OPEN) return false;
    if (ws.bufferedAmount > MAX_SEND_BUFFER_BYTES) {
      this.closeSlowConsumer(conn);
      return false;
    }
    ws.send(text);
    return true;
  }

  private closeSlowConsumer(conn: Connection): void {
    if (conn.socket.readyState !== WebSocket.OPEN) return;
    this.counters.slowConsumerClosesTotal++;
    this.cancelLedger(conn);
    // terminate, not close: a close frame would queue behind the unread data.
    conn.socket.terminate();
  }

  private broadcast(room: Room, except: Connection, msg: ServerMessage): void {
    const text = JSON.stringify(msg);
    for (const member of room.members.values()) if (member !== except) this.sendText(member, text);
  }

  private reject(conn: Connection, code: SignalingErrorCode, message: string, requestId?: string): void {
    this.counters.rejectedMessagesTotal[code]++;
    const msg = errorMessage(code, message);
    this.send(conn, requestId === undefined ? msg : { ...msg, requestId });
    if (STRIKE_CODES.has(code) && !conn.strikes.take()) {
      if (conn.socket.readyState !== WebSocket.OPEN) return;
      this.counters.abuseClosesTotal++;
      conn.backlog.length = 0;
      conn.socket.close(CLOSE_POLICY_VIOLATION, 'too many invalid messages');
      // Stop reading from it and free its room slot now, not after the
      // close handshake; the later 'close' event finds nothing left to do.
      this.onClose(conn);
    }
  }

  private track(work: Promise<unknown>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }
}

// ---- helpers ----------------------------------------------------------------

/** The messages of a block sent in parts, each within the message limit; undefined if it cannot be split. */
function splitLedgerBlock(block: unknown): string[] | undefined {
  if (typeof block !== 'object' || block === null) return undefined;
  const b = block as Partial<BlockJson>;
  if (!Array.isArray(b.txs) || typeof b.signature !== 'string' || typeof b.height !== 'number')
    return undefined;
  const parts = splitBlock(block as BlockJson, MAX_SIGNALING_MESSAGE_BYTES - LEDGER_BLOCK_ENVELOPE_BYTES);
  if (!parts) return undefined;
  const texts = parts.map((part) =>
    JSON.stringify({ type: 'ledger-block', block: part } satisfies ServerMessage),
  );
  return texts.every((t) => Buffer.byteLength(t) <= MAX_SIGNALING_MESSAGE_BYTES) ? texts : undefined;
}

function errorMessage(code: SignalingErrorCode, message: string): Extract<ServerMessage, { type: 'error' }> {
  return { type: 'error', code, message: message.slice(0, 1024) };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

function rawByteLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data.byteLength;
}

function rawToBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}

function blockHeight(block: unknown): number | undefined {
  if (typeof block !== 'object' || block === null) return undefined;
  const h = (block as { height?: unknown }).height;
  return typeof h === 'number' && Number.isInteger(h) ? h : undefined;
}

function delay(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

async function withTimeout(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((done) => (timer = setTimeout(done, ms)))]);
  clearTimeout(timer);
}

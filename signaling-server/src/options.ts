/**
 * The signaling server's options: every limit is one, with the default
 * `start` uses and the validation `createSignalingServer` applies (a bad value
 * throws SignalingServerError 'invalid-options' before anything listens).
 */
import { readFileSync } from 'node:fs';
import type { LedgerHook } from '@peerbench/ledger';
import {
  CodedError,
  type IceServer,
  MAX_NEIGHBOURHOOD_DEGREE,
  MAX_PRESENCE_SAMPLE_PEERS,
  MAX_SIGNALING_MESSAGE_BYTES,
  ROOM_NAME_PATTERN,
} from '@peerbench/protocol';
import {
  type AddressBudgetLimits,
  BUDGET_KINDS,
  budgetLimitsProblem,
  DEFAULT_ADDRESS_BUDGET_LIMITS,
} from './address-budget.js';
import { DEFAULT_PRESENCE_SAMPLE_SIZE } from './presence.js';
import type { RoomBridge } from './room-bridge.js';

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
/**
 * A room is bounded by this and by memory, not by one message: a welcome
 * carries a sample of at most presenceSampleSize members (presence.ts), so
 * it stays small however big the room. The default is the connection cap.
 */
export const DEFAULT_MAX_PEERS_PER_ROOM = 10_000;
export { DEFAULT_PRESENCE_SAMPLE_SIZE };
/** The room the web app's bare URL joins (told to clients by GET /config). */
export const DEFAULT_PUBLIC_ROOM = 'public';
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
 * Per client address, for /ledger/* HTTP requests (reads). A dashboard polls
 * a few routes every block; a browser page catching up pages /ledger/blocks.
 */
export const DEFAULT_LEDGER_HTTP_RATE_PER_S = DEFAULT_ADDRESS_BUDGET_LIMITS['ledger-read'].ratePerS;
export const DEFAULT_LEDGER_HTTP_BURST = DEFAULT_ADDRESS_BUDGET_LIMITS['ledger-read'].burst;
/**
 * Per client address, for ledger txs over POST /ledger/tx and WebSocket
 * `ledger-tx` together (every tx costs a signature check); a POST also counts
 * as a /ledger request above.
 */
export const DEFAULT_LEDGER_TX_HTTP_RATE_PER_S = DEFAULT_ADDRESS_BUDGET_LIMITS.tx.ratePerS;
export const DEFAULT_LEDGER_TX_HTTP_BURST = DEFAULT_ADDRESS_BUDGET_LIMITS.tx.burst;

/**
 * A new socket has this long to send complete request headers (an HTTP
 * request or a WebSocket upgrade); Node's default is 60 s, which let
 * half-open upgrades pile up to the descriptor limit.
 */
export const DEFAULT_UPGRADE_TIMEOUT_MS = 5_000;
/** Sockets per address still waiting for their first complete request headers. */
export const DEFAULT_MAX_PENDING_SOCKETS_PER_IP = 64;
/** Open TCP sockets in all (pending, HTTP, WebSocket), unless the descriptor limit is lower (below). */
export const DEFAULT_MAX_OPEN_SOCKETS = 12_000;
/** Descriptors left for everything else (the ledger's files, logs, DNS) when the default cap follows `ulimit -n`. */
export const FD_RESERVE = 256;

// ---- fixed limits (not options) ---------------------------------------------

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
/**
 * Connections the kernel queues for accept (capped by net.core.somaxconn).
 * Node's default, 511, overflowed under a flood of half-open upgrades, and a
 * dropped SYN costs an honest client a 1 s retransmit.
 */
export const LISTEN_BACKLOG = 4_096;
/** Bytes of the server nonce (hex doubles it; the protocol wants 32-128 hex chars). */
export const CHALLENGE_NONCE_BYTES = 16;

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
  /** Members in a welcome or a `sample` answer (1..MAX_PRESENCE_SAMPLE_PEERS). Default DEFAULT_PRESENCE_SAMPLE_SIZE. */
  presenceSampleSize?: number;
  /** The operator's public room: what a person joins by opening the bare URL (GET /config says it). */
  publicRoom?: string;
  /**
   * The operator's D: most WebRTC links each page keeps (1..MAX_NEIGHBOURHOOD_DEGREE),
   * announced in GET /config; a page's `?degree=` still wins. Absent: the page's own default.
   */
  degree?: number;
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
  /** /ledger/* HTTP requests per second and burst, per client address; over it: 429 `rate-limited`. Same as addressBudgets['ledger-read']. */
  ledgerHttpRatePerS?: number;
  ledgerHttpBurst?: number;
  /**
   * Ledger txs per second and burst, per client address, POST /ledger/tx and
   * WebSocket `ledger-tx` together (a POST also counts against the above).
   * Same as addressBudgets.tx.
   */
  ledgerTxHttpRatePerS?: number;
  ledgerTxHttpBurst?: number;
  /** Count connections per the last X-Forwarded-For hop (only behind your own reverse proxy). */
  trustProxy?: boolean;
  /**
   * Web origins besides the server's own that may open WebSocket joins and
   * POST /ledger/tx ("*" = any). Requests without an Origin (Node peers, curl)
   * are always allowed; see origin-policy.ts. Default: none.
   */
  allowedOrigins?: readonly string[];
  /** Where operational log lines go; default: nowhere. */
  log?: (line: string) => void;
  /**
   * Rooms across instances (clustered mode): presence and signals of rooms
   * shared with other instances through this bridge (room-bridge.ts). The
   * bridge's owner starts it before and stops it after the server.
   */
  roomBridge?: RoomBridge;
  /**
   * Budgets per client address (address-budget.ts), shared by all its
   * connections and not refilled by reconnecting: new connections, messages,
   * ledger txs (both paths), joins/leaves, /ledger reads. Kinds left out keep
   * their defaults (DEFAULT_ADDRESS_BUDGET_LIMITS; the message budget is never
   * below one connection's messageRatePerS/messageBurst). Over budget: the
   * stable code `rate-limited` (HTTP 429).
   */
  addressBudgets?: Partial<AddressBudgetLimits>;
  /** How long a new socket has to send complete request headers (socket-guard.ts); then it is closed. */
  upgradeTimeoutMs?: number;
  /**
   * Open TCP sockets in all, pending ones included; over it a new socket is
   * closed at once. Default: DEFAULT_MAX_OPEN_SOCKETS, or the process's open
   * file limit less FD_RESERVE when that is lower (Linux: /proc/self/limits).
   */
  maxOpenSockets?: number;
  /** Sockets per address still waiting for complete request headers (not applied with trustProxy). */
  maxPendingSocketsPerIp?: number;
}

export type ResolvedSignalingServerOptions = Required<
  Omit<
    SignalingServerOptions,
    'staticDir' | 'ledger' | 'log' | 'iceServersForPeer' | 'roomBridge' | 'addressBudgets' | 'degree'
  >
> &
  Pick<
    SignalingServerOptions,
    'staticDir' | 'ledger' | 'log' | 'iceServersForPeer' | 'roomBridge' | 'degree'
  > & {
    /** Every kind filled in (defaults, then ledgerHttp*, ledgerTxHttp*, then addressBudgets). */
    addressBudgets: AddressBudgetLimits;
  };

export class SignalingServerError extends CodedError<'invalid-options' | 'not-started' | 'already-started'> {
  override readonly name = 'SignalingServerError';
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
    presenceSampleSize: opts.presenceSampleSize ?? DEFAULT_PRESENCE_SAMPLE_SIZE,
    publicRoom: opts.publicRoom ?? DEFAULT_PUBLIC_ROOM,
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
    allowedOrigins: opts.allowedOrigins ?? [],
    staticDir: opts.staticDir,
    ledger: opts.ledger,
    log: opts.log,
    iceServersForPeer: opts.iceServersForPeer,
    roomBridge: opts.roomBridge,
    addressBudgets: DEFAULT_ADDRESS_BUDGET_LIMITS,
    upgradeTimeoutMs: opts.upgradeTimeoutMs ?? DEFAULT_UPGRADE_TIMEOUT_MS,
    maxOpenSockets: opts.maxOpenSockets ?? defaultMaxOpenSockets(),
    maxPendingSocketsPerIp: opts.maxPendingSocketsPerIp ?? DEFAULT_MAX_PENDING_SOCKETS_PER_IP,
  };
  r.addressBudgets = {
    ...DEFAULT_ADDRESS_BUDGET_LIMITS,
    message: {
      ratePerS: Math.max(DEFAULT_ADDRESS_BUDGET_LIMITS.message.ratePerS, r.messageRatePerS),
      burst: Math.max(DEFAULT_ADDRESS_BUDGET_LIMITS.message.burst, r.messageBurst),
    },
    tx: { ratePerS: r.ledgerTxHttpRatePerS, burst: r.ledgerTxHttpBurst },
    'ledger-read': { ratePerS: r.ledgerHttpRatePerS, burst: r.ledgerHttpBurst },
  };
  for (const kind of BUDGET_KINDS) {
    const given = opts.addressBudgets?.[kind];
    if (given !== undefined) r.addressBudgets[kind] = { ratePerS: given.ratePerS, burst: given.burst };
  }
  const positiveInts: (keyof ResolvedSignalingServerOptions)[] = [
    'heartbeatIntervalMs',
    'maxMessageBytes',
    'messageBurst',
    'maxPeersPerRoom',
    'presenceSampleSize',
    'maxRooms',
    'maxConnectionsPerIp',
    'maxConnections',
    'abuseStrikeDecayMs',
    'joinTimeoutMs',
    'ledgerHttpBurst',
    'ledgerTxHttpBurst',
    'upgradeTimeoutMs',
    'maxOpenSockets',
    'maxPendingSocketsPerIp',
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
  const budgetProblem = budgetLimitsProblem(r.addressBudgets);
  if (budgetProblem) throw new SignalingServerError('invalid-options', budgetProblem);
  if (r.maxMessageBytes > MAX_SIGNALING_MESSAGE_BYTES)
    throw new SignalingServerError(
      'invalid-options',
      `maxMessageBytes cannot exceed the protocol's ${MAX_SIGNALING_MESSAGE_BYTES}: clients would reject the echo`,
    );
  if (r.presenceSampleSize > MAX_PRESENCE_SAMPLE_PEERS)
    throw new SignalingServerError(
      'invalid-options',
      `presenceSampleSize cannot exceed the protocol's ${MAX_PRESENCE_SAMPLE_PEERS}: clients would reject the welcome`,
    );
  if (!ROOM_NAME_PATTERN.test(r.publicRoom))
    throw new SignalingServerError('invalid-options', 'publicRoom must match [A-Za-z0-9_-]{1,64}');
  if (opts.degree !== undefined) {
    if (!Number.isInteger(opts.degree) || opts.degree < 1 || opts.degree > MAX_NEIGHBOURHOOD_DEGREE)
      throw new SignalingServerError(
        'invalid-options',
        `degree must be a whole number from 1 to ${MAX_NEIGHBOURHOOD_DEGREE}, got ${opts.degree}`,
      );
    r.degree = opts.degree;
  }
  return r;
}

/** The soft open-file limit of this process, or undefined where it cannot be read. */
export function openFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    const n = Number(soft);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function defaultMaxOpenSockets(): number {
  const limit = openFileLimit();
  if (limit === undefined) return DEFAULT_MAX_OPEN_SOCKETS;
  return Math.max(1, Math.min(DEFAULT_MAX_OPEN_SOCKETS, limit - FD_RESERVE));
}

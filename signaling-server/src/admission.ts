/**
 * The front door. `createGuardedHttpServer` puts every accepted TCP socket
 * through socket-guard.ts (descriptor limits, header timeout) and every
 * upgrade request through `Admission`: which upgrades become signaling
 * connections. The
 * Origin check (origin-policy.ts), the WebSocket handshake, and the
 * connection slots: at most `maxConnectionsPerIp` per client address and
 * `maxConnections` in all, and the address's budget of new connections
 * (address-budget.ts), spent when the upgrade request arrives. A refused client is told why with a stable code
 * before it is closed (browsers cannot see an HTTP status on a refused
 * upgrade, but they do see a message).
 *
 * The server owns what happens after admission (server.ts `accept`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { CloseCode, type SignalingErrorCode } from '@peerbench/protocol';
import { type WebSocket, WebSocketServer } from 'ws';
import type { AddressBudgets } from './address-budget.js';
import { errorMessage } from './host.js';
import { clientIp } from './http-routes.js';
import type { SignalingCounters } from './metrics.js';
import { HARD_MAX_PAYLOAD_BYTES, type ResolvedSignalingServerOptions } from './options.js';
import { originAllowed } from './origin-policy.js';
import type { SocketGuard } from './socket-guard.js';

export interface AdmissionContext {
  readonly options: Readonly<ResolvedSignalingServerOptions>;
  readonly counters: SignalingCounters;
  /** The server's per-address budgets ('connection' is spent here). */
  readonly budgets: AddressBudgets;
  running(): boolean;
  /** Every upgraded socket, admitted or about to be refused (stop() terminates them). */
  opened(ws: WebSocket): void;
  /** An admitted connection from `ip`; the server calls `release(ip)` once when it is done with it. */
  accept(ws: WebSocket, ip: string): void;
}

/**
 * The HTTP server with its front door wired: every TCP socket through
 * `guard` from the moment it is accepted, upgrades through an Admission,
 * requests to `onRequest`. Not listening yet.
 */
export function createGuardedHttpServer(
  ctx: AdmissionContext,
  guard: SocketGuard,
  onRequest: (req: IncomingMessage, res: ServerResponse) => void,
): { http: Server; wss: WebSocketServer; admission: Admission } {
  const { upgradeTimeoutMs } = ctx.options;
  const checkingIntervalMs = Math.min(1_000, upgradeTimeoutMs);
  const http = createServer(
    // Node checks its header timeout this often; the first request's is the guard's own timer.
    { connectionsCheckingInterval: checkingIntervalMs },
    (req, res) => {
      guard.headersArrived(req.socket);
      onRequest(req, res);
    },
  );
  // Later requests on a kept-alive socket get about the same header timeout
  // as the first (a little later than the guard's, so the guard's fires first).
  http.headersTimeout = upgradeTimeoutMs + checkingIntervalMs;
  http.on('connection', (socket) => guard.onSocket(socket));
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: HARD_MAX_PAYLOAD_BYTES,
    // Compression costs CPU and memory per socket for tiny SDP messages.
    perMessageDeflate: false,
    // One message per event-loop turn per connection: a flooder's 64 KiB
    // chunk (hundreds of messages, all within its burst) is then interleaved
    // with everyone else's instead of holding the loop for ~100 ms.
    allowSynchronousEvents: false,
  });
  const admission = new Admission(ctx, wss);
  http.on('upgrade', (req, socket, head) => {
    guard.headersArrived(req.socket);
    admission.onUpgrade(req, socket, head);
  });
  // Malformed HTTP from a client must not become an unhandled error.
  http.on('clientError', (_err, socket) => socket.destroy());
  return { http, wss, admission };
}

export class Admission {
  private readonly slotsPerIp = new Map<string, number>();
  private slots = 0;

  constructor(
    private readonly ctx: AdmissionContext,
    private readonly wss: WebSocketServer,
  ) {}

  /** Connections holding a slot. */
  get size(): number {
    return this.slots;
  }

  /** The HTTP server's 'upgrade' event. */
  onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!this.ctx.running()) {
      socket.destroy();
      return;
    }
    socket.on('error', () => socket.destroy());
    if (!originAllowed(req.headers.origin, req.headers.host, this.ctx.options)) {
      // A page of another site must not make its visitors' browsers join or send txs.
      this.ctx.counters.forbiddenOriginTotal++;
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const ip = clientIp(req, this.ctx.options.trustProxy);
    // Spent when the upgrade request arrives, before the handshake: a client
    // that reconnects in a loop runs out whatever happens to its sockets.
    const withinBudget = this.ctx.budgets.take(ip, 'connection');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onWebSocket(ws, ip, withinBudget));
  }

  private onWebSocket(ws: WebSocket, ip: string, withinBudget: boolean): void {
    // ws emits 'error' (e.g. payload over maxPayload) before closing; without
    // a listener that would crash the process.
    ws.on('error', () => {});
    this.ctx.opened(ws);
    if (!this.ctx.running()) {
      ws.close(CloseCode.goingAway, 'server shutting down');
      return;
    }
    if (!withinBudget) {
      this.refuse(ws, 'rate-limited', 'this address opens new connections faster than its budget');
      return;
    }
    const o = this.ctx.options;
    const perIp = this.slotsPerIp.get(ip) ?? 0;
    const refusal =
      perIp >= o.maxConnectionsPerIp
        ? `at most ${o.maxConnectionsPerIp} connections per address`
        : this.slots >= o.maxConnections
          ? `the server is at its ${o.maxConnections} connections`
          : undefined;
    if (refusal !== undefined) {
      this.refuse(ws, 'too-many-connections', refusal);
      return;
    }
    this.slotsPerIp.set(ip, perIp + 1);
    this.slots++;
    this.ctx.accept(ws, ip);
  }

  /** Accepts, explains with a stable code, closes with 1013. */
  private refuse(ws: WebSocket, code: SignalingErrorCode, reason: string): void {
    this.ctx.counters.rejectedMessagesTotal[code]++;
    ws.send(JSON.stringify(errorMessage(code, reason)));
    ws.close(CloseCode.tryAgainLater, code === 'too-many-connections' ? 'too many connections' : reason);
  }

  /** Frees an admitted connection's slot (once per accepted connection). */
  release(ip: string): void {
    this.slots--;
    const perIp = (this.slotsPerIp.get(ip) ?? 1) - 1;
    if (perIp <= 0) this.slotsPerIp.delete(ip);
    else this.slotsPerIp.set(ip, perIp);
  }
}

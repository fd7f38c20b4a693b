/**
 * The server's HTTP side: `/health`, `/metrics`, `/ledger/*` (handed to the
 * LedgerHook behind a per-address rate limit) and the built web app.
 * WebSocket upgrades never come here (server.ts takes them).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpErrorCode, LedgerSubmitErrorCode } from '@peerbench/protocol';
import { ledgerHealth, renderLedgerPrometheus } from './ledger-status.js';
import type { SignalingMetrics } from './metrics.js';
import { renderPrometheus, type SignalingCounters } from './metrics.js';
import type { ResolvedSignalingServerOptions } from './options.js';
import { originAllowed } from './origin-policy.js';
import type { StaticFiles } from './static-files.js';
import { TokenBucket } from './token-bucket.js';

/** Addresses whose HTTP buckets are kept; beyond that the oldest is forgotten (memory bound). */
export const MAX_HTTP_RATE_LIMITED_ADDRESSES = 65_536;

export interface HttpRoutesContext {
  readonly options: Readonly<ResolvedSignalingServerOptions>;
  readonly counters: SignalingCounters;
  readonly staticFiles: StaticFiles | undefined;
  running(): boolean;
  metrics(): SignalingMetrics;
}

/** The client's address: the last X-Forwarded-For hop when the proxy is trusted, else the socket's. */
export function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = req.headers['x-forwarded-for'];
    const value = Array.isArray(forwarded) ? forwarded.at(-1) : forwarded;
    const last = value?.split(',').at(-1)?.trim();
    if (last) return last;
  }
  return req.socket.remoteAddress ?? 'unknown';
}

export class HttpRoutes {
  /** HTTP token buckets per client address (insertion order = age, for the memory bound). */
  private readonly buckets = new Map<string, { ledger: TokenBucket; tx: TokenBucket }>();

  constructor(private readonly ctx: HttpRoutesContext) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { options, counters } = this.ctx;
    try {
      const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
      const method = req.method ?? 'GET';
      if (pathname === '/health' && (method === 'GET' || method === 'HEAD')) {
        const m = this.ctx.metrics();
        return sendJson(res, 200, {
          ok: this.ctx.running(),
          uptimeSeconds: m.uptimeSeconds,
          connections: m.connections,
          rooms: m.rooms,
          peers: m.peers,
          ...ledgerHealth(options.ledger),
        });
      }
      if (pathname === '/metrics' && (method === 'GET' || method === 'HEAD')) {
        const body =
          renderPrometheus(this.ctx.metrics(), process.memoryUsage.rss()) +
          renderLedgerPrometheus(options.ledger);
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(method === 'HEAD' ? undefined : body);
        return;
      }
      if (pathname === '/ledger' || pathname.startsWith('/ledger/')) {
        // Reads stay open to any origin; a tx may come only from the server's own app (or listed origins).
        if (method === 'POST' && !originAllowed(req.headers.origin, req.headers.host, options)) {
          req.resume();
          counters.forbiddenOriginTotal++;
          return sendError(res, 403, 'forbidden-origin');
        }
        const limited = this.rateLimit(req, pathname === '/ledger/tx' && method === 'POST');
        if (limited !== undefined) {
          counters.httpRateLimitedTotal++;
          req.resume(); // drain an unread body so the connection can be reused
          res.setHeader('Retry-After', String(limited));
          const code: LedgerSubmitErrorCode = 'rate-limited';
          return sendJson(res, 429, {
            ok: false,
            code,
            message: `too many /ledger requests from this address; retry in ${limited} s`,
          });
        }
        const ledger = options.ledger;
        if (!ledger) return sendError(res, 503, 'ledger-unavailable');
        const answered = await ledger.handleHttp(req, res);
        if (!answered && !res.headersSent) sendError(res, 404, 'not-found');
        return;
      }
      const staticFiles = this.ctx.staticFiles;
      if (staticFiles && (method === 'GET' || method === 'HEAD')) {
        const result = await staticFiles.serve(pathname, req, res);
        if (result === 'served') return;
        if (result === 'bad-request') return sendError(res, 400, 'bad-request');
        if (result === 'forbidden') return sendError(res, 403, 'forbidden');
      }
      sendError(res, 404, 'not-found');
    } catch (err) {
      options.log?.(`http handler failed: ${(err as Error).message}`);
      if (!res.headersSent) sendError(res, 500, 'internal');
      else res.destroy();
    }
  }

  /**
   * Takes a token for a /ledger request from this address (and one from the
   * tx bucket for POST /ledger/tx). Undefined when allowed, else the seconds
   * until a token is back (for Retry-After).
   */
  private rateLimit(req: IncomingMessage, isTx: boolean): number | undefined {
    const o = this.ctx.options;
    const ip = clientIp(req, o.trustProxy);
    let b = this.buckets.get(ip);
    if (!b) {
      if (this.buckets.size >= MAX_HTTP_RATE_LIMITED_ADDRESSES) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
      b = {
        ledger: new TokenBucket(o.ledgerHttpRatePerS, o.ledgerHttpBurst),
        tx: new TokenBucket(o.ledgerTxHttpRatePerS, o.ledgerTxHttpBurst),
      };
      this.buckets.set(ip, b);
    }
    // Check the tx bucket first so a refused tx does not also spend a read token.
    if (isTx && b.tx.available() < 1) return Math.max(1, Math.ceil(1 / o.ledgerTxHttpRatePerS));
    if (!b.ledger.take()) return Math.max(1, Math.ceil(1 / o.ledgerHttpRatePerS));
    if (isTx) b.tx.take();
    return undefined;
  }

  /** Forgets addresses whose buckets are full again (idle clients cost no memory). */
  pruneRateLimits(): void {
    const o = this.ctx.options;
    for (const [ip, b] of this.buckets)
      if (b.ledger.available() >= o.ledgerHttpBurst && b.tx.available() >= o.ledgerTxHttpBurst)
        this.buckets.delete(ip);
  }
}

function sendError(res: ServerResponse, status: number, error: HttpErrorCode): void {
  sendJson(res, status, { error });
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

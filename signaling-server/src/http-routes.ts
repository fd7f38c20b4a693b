/**
 * The server's HTTP side: `/health`, `/config`, `/metrics`, `/ledger/*` (handed to the
 * LedgerHook behind the per-address budgets of address-budget.ts) and the
 * built web app.
 * WebSocket upgrades never come here (server.ts takes them).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HTTP_ERROR_STATUS, type HttpErrorCode, type LedgerSubmitErrorCode } from '@peerbench/protocol';
import type { AddressBudgets } from './address-budget.js';
import { ledgerHealth, renderLedgerPrometheus } from './ledger-status.js';
import type { SignalingMetrics } from './metrics.js';
import { renderPrometheus, type SignalingCounters } from './metrics.js';
import type { ResolvedSignalingServerOptions } from './options.js';
import { originAllowed } from './origin-policy.js';
import type { StaticFiles } from './static-files.js';

export interface HttpRoutesContext {
  readonly options: Readonly<ResolvedSignalingServerOptions>;
  readonly counters: SignalingCounters;
  readonly staticFiles: StaticFiles | undefined;
  /** The server's per-address budgets ('ledger-read', 'tx'). */
  readonly budgets: AddressBudgets;
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
      if (pathname === '/config' && (method === 'GET' || method === 'HEAD')) {
        // What the web app needs before it joins: the room its bare URL joins, and D when the operator sets it.
        return sendJson(res, 200, {
          publicRoom: options.publicRoom,
          presenceSampleSize: options.presenceSampleSize,
          ...(options.degree !== undefined ? { degree: options.degree } : {}),
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
          return sendError(res, 'forbidden-origin');
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
            message: `this address is over its /ledger budget (requests, txs or bytes); retry in ${limited} s`,
          });
        }
        const ledger = options.ledger;
        if (!ledger) return sendError(res, 'ledger-unavailable');
        // The answer's size (headers and body, as handed to the socket) against the address's byte budget.
        const bytesBefore = req.socket.bytesWritten;
        const answered = await ledger.handleHttp(req, res);
        const sentBytes = req.socket.bytesWritten - bytesBefore;
        if (sentBytes > 0)
          this.ctx.budgets.charge(clientIp(req, options.trustProxy), 'ledger-read-bytes', sentBytes);
        if (!answered && !res.headersSent) sendError(res, 'not-found');
        return;
      }
      const staticFiles = this.ctx.staticFiles;
      if (staticFiles && (method === 'GET' || method === 'HEAD')) {
        const result = await staticFiles.serve(pathname, req, res);
        if (result === 'served') return;
        if (result === 'bad-request') return sendError(res, 'bad-request');
        if (result === 'forbidden') return sendError(res, 'forbidden');
      }
      sendError(res, 'not-found');
    } catch (err) {
      options.log?.(`http handler failed: ${(err as Error).message}`);
      if (!res.headersSent) sendError(res, 'internal');
      else res.destroy();
    }
  }

  /**
   * Spends the address's budgets for a /ledger request ('ledger-read', and
   * 'tx' for POST /ledger/tx, shared with WebSocket txs). Undefined when
   * allowed, else the seconds until a unit is back (for Retry-After).
   */
  private rateLimit(req: IncomingMessage, isTx: boolean): number | undefined {
    const budgets = this.ctx.budgets;
    const ip = clientIp(req, this.ctx.options.trustProxy);
    // Check the tx budget first so a refused tx does not also spend a read.
    if (isTx && !budgets.has(ip, 'tx')) return budgets.retryAfterS('tx');
    if (!budgets.has(ip, 'ledger-read-bytes')) return budgets.retryAfterS('ledger-read-bytes', ip);
    if (!budgets.take(ip, 'ledger-read')) return budgets.retryAfterS('ledger-read');
    if (isTx) budgets.take(ip, 'tx');
    return undefined;
  }
}

function sendError(res: ServerResponse, error: HttpErrorCode): void {
  sendJson(res, HTTP_ERROR_STATUS[error], { error });
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

/**
 * What the signaling server mounts: tx submission, block streaming for
 * subscribed sockets, and the read-only HTTP routes under /ledger/.
 *
 *   POST /ledger/tx                     body: tx JSON (≤ MAX_HTTP_BODY_BYTES) → { ok } | { ok:false, code, message }
 *   GET  /ledger/head                   → { height, hash, block } (block null before height 1)
 *   GET  /ledger/blocks?from=&limit=    → { blocks, next? } (limit ≤ MAX_BLOCKS_PER_PAGE; the page
 *                                         also stops before maxBlocksPageBytes of blocks, always
 *                                         holding at least one: then `next` is the height to ask
 *                                         for next; without `next` the page was not cut short)
 *   GET  /ledger/state                  → LedgerStateView (S, R, τ, sparse W, peers), serialised
 *                                         once per block however many read it
 *   GET  /ledger/state?from=&limit=     → LedgerStatePage: the same chain fields, the per-uid arrays
 *                                         for uids [from, from+limit) (limit ≤ MAX_STATE_PAGE_UIDS)
 *                                         and `next` while more uids follow (state-pages.ts)
 *   GET  /ledger/summary                → LedgerStateSummary: chain fields, uid count and the top
 *                                         ranks, small at any size; serialised once per block
 *   GET  /ledger/genesis                → GenesisConfig (what a RemoteChain needs)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  LEDGER_HTTP_ERROR_STATUS,
  type LedgerHttpErrorCode,
  type LedgerSubmitResult,
} from '@peerbench/protocol';
import type { BlockJson } from './block.js';
import type { GenesisConfig } from './genesis.js';
import type { LedgerStateView } from './state.js';
import { MAX_STATE_PAGE_UIDS, statePage, stateSummary } from './state-pages.js';

export const MAX_HTTP_BODY_BYTES = 16 * 1024;
export const MAX_BLOCKS_PER_PAGE = 100;
/**
 * Default byte cap of one /ledger/blocks page. 100 blocks of a 65,536-uid
 * chain were 21 MB per request; a page now stops before this (a single block
 * larger than it still goes out alone, or the reader could never pass it).
 */
export const DEFAULT_MAX_BLOCKS_PAGE_BYTES = 1024 * 1024;
/** Blocks read from the store at a time while a page fills (a page never loads more than it may send, plus this). */
const BLOCKS_PAGE_READ_CHUNK = 16;

export interface LedgerHookOptions {
  /** Byte cap of one GET /ledger/blocks page (the blocks' JSON); default DEFAULT_MAX_BLOCKS_PAGE_BYTES. */
  maxBlocksPageBytes?: number;
}

/**
 * How a ledger plugs into the signaling server (declared here only; the
 * server imports it). Blocks travel in the ledger's JSON form; a numeric
 * `height` field on them lets the server drop duplicates at the
 * catch-up/live seam.
 */
export interface LedgerHook {
  /** Validates and queues a tx; never throws for a bad tx (a failure carries a typed `code`). */
  submitTx(tx: unknown): Promise<LedgerSubmitResult>;
  /** Blocks in JSON form from height `fromHeight` on (bounded by limit). */
  blocksFrom(fromHeight: number, limit: number): Promise<unknown[]>;
  /** Called with each new block in JSON form; returns unsubscribe. */
  onBlock(cb: (block: unknown) => void): () => void;
  /** Handles /ledger/* HTTP routes; resolves true if it answered. */
  handleHttp(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** What the server's /health and /metrics report about the ledger (absent: a hook with nothing to say). */
  status?(): LedgerStatus;
}

/**
 * How this server's ledger takes part in the chain: `embedded` (this process
 * produces alone, SQLite), or in clustered mode (`@peerbench/ledger/nats`)
 * `producer` (holds the lease), `follower` (may produce, waits for the lease)
 * or `observer` (its key is not in the genesis' producers: only follows).
 */
export type LedgerRole = 'embedded' | 'producer' | 'follower' | 'observer';

/** A ledger's operator view (cheap: read synchronously on every /health and /metrics). */
export interface LedgerStatus {
  role: LedgerRole;
  /** Height of the last block applied here. */
  height: number;
  /**
   * Blocks on the shared block stream not yet applied here, as of the last
   * check (about once a second); -1 when the stream did not answer; always 0 embedded.
   */
  lagBlocks: number;
  /** NATS connection state in clustered mode; null for the embedded ledger (no NATS). */
  natsConnected: boolean | null;
}

/**
 * What the hook serves from: the embedded BlockProducer, or a clustered
 * ledger instance (`@peerbench/ledger/nats`) that follows a replicated chain.
 */
export interface LedgerHookSource {
  readonly genesis: GenesisConfig;
  submitTx(tx: unknown): Promise<LedgerSubmitResult>;
  blocksFrom(from: number, limit: number): Promise<BlockJson[]>;
  /** Called once per new block after it is stored locally; returns an unsubscribe function. */
  onBlock(cb: (b: { block: BlockJson }) => void): () => void;
  state(): LedgerStateView;
  head(): BlockJson | undefined;
  /** Absent ⇒ the hook reports an embedded producer at head().height. */
  status?(): LedgerStatus;
}

function sendError(res: ServerResponse, code: LedgerHttpErrorCode, message: string): void {
  send(res, LEDGER_HTTP_ERROR_STATUS[code], { ok: false, code, message });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  sendText(res, status, JSON.stringify(body));
}

/** Sends JSON that is already serialised. */
function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    // The chain is public and txs authenticate themselves by signature, so a
    // page served from another origin (`?server=`) may read it.
    'access-control-allow-origin': '*',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Reads at most `cap` bytes; resolves undefined (and stops reading) when the body is larger. */
function readBody(req: IncomingMessage, cap: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > cap) {
      req.resume();
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > cap) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function intParam(value: string | null, fallback: number): number | undefined {
  if (value === null || value === '') return fallback;
  if (!/^\d{1,15}$/.test(value)) return undefined;
  return Number(value);
}

export function createLedgerHook(producer: LedgerHookSource, options: LedgerHookOptions = {}): LedgerHook {
  const maxPageBytes = options.maxBlocksPageBytes ?? DEFAULT_MAX_BLOCKS_PAGE_BYTES;
  if (!Number.isInteger(maxPageBytes) || maxPageBytes < 1)
    throw new RangeError('maxBlocksPageBytes must be a positive integer');
  const submitTx = async (tx: unknown): Promise<LedgerSubmitResult> => {
    const r = await producer.submitTx(tx);
    return r.ok ? ({ ok: true } as const) : ({ ok: false, code: r.code, message: r.message } as const);
  };
  const blocksFrom = (from: number, limit: number) =>
    producer.blocksFrom(
      Number.isFinite(from) ? Math.max(1, Math.floor(from)) : 1,
      Math.min(MAX_BLOCKS_PER_PAGE, Math.max(0, Math.floor(limit))),
    );

  const status = (): LedgerStatus =>
    producer.status?.() ?? {
      role: 'embedded',
      height: producer.head()?.height ?? 0,
      lagBlocks: 0,
      natsConnected: null,
    };
  /** /ledger/summary's JSON, made once per block like the state's. */
  let summaryCache: { key: string; text: string } | undefined;
  const summaryText = (): string => {
    const view = producer.state();
    const key = `${view.height}:${view.headHash}`;
    if (summaryCache?.key !== key) summaryCache = { key, text: JSON.stringify(stateSummary(view)) };
    return summaryCache.text;
  };
  /** The state's JSON, made once per block (keyed by height and head hash) and shared by every reader. */
  let stateCache: { key: string; text: string } | undefined;
  const stateText = (): string => {
    const view = producer.state();
    const key = `${view.height}:${view.headHash}`;
    if (stateCache?.key !== key) stateCache = { key, text: JSON.stringify(view) };
    return stateCache.text;
  };

  /** A /ledger/blocks page as JSON text: up to `limit` blocks from `from`, cut before maxPageBytes. */
  const blocksPage = async (from: number, limit: number): Promise<string> => {
    const wanted = Math.min(MAX_BLOCKS_PER_PAGE, limit);
    const texts: string[] = [];
    let bytes = 0;
    let next: number | undefined;
    let height = Math.max(1, from);
    while (texts.length < wanted && next === undefined) {
      const asked = Math.min(BLOCKS_PAGE_READ_CHUNK, wanted - texts.length);
      const chunk = await producer.blocksFrom(height, asked);
      for (const block of chunk) {
        const text = JSON.stringify(block);
        const size = Buffer.byteLength(text);
        if (texts.length > 0 && bytes + size > maxPageBytes) {
          next = block.height;
          break;
        }
        texts.push(text);
        bytes += size;
        height = block.height + 1;
      }
      if (chunk.length < asked) break; // the end of the chain
    }
    return `{"blocks":[${texts.join(',')}]${next === undefined ? '' : `,"next":${next}`}}`;
  };

  return {
    submitTx,
    blocksFrom,
    status,
    onBlock: (cb) => producer.onBlock(({ block }) => cb(block)),
    async handleHttp(req, res) {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (!url.pathname.startsWith('/ledger/')) return false;
      const route = url.pathname.slice('/ledger/'.length);
      try {
        if (route === 'tx') {
          if (req.method !== 'POST') {
            sendError(res, 'method-not-allowed', 'POST a tx as JSON');
            return true;
          }
          const body = await readBody(req, MAX_HTTP_BODY_BYTES);
          if (body === undefined) {
            sendError(res, 'too-large', `body exceeds ${MAX_HTTP_BODY_BYTES} bytes`);
            return true;
          }
          let tx: unknown;
          try {
            tx = JSON.parse(body);
          } catch {
            sendError(res, 'malformed', 'body is not JSON');
            return true;
          }
          const r = await submitTx(tx);
          send(res, r.ok ? 200 : 400, r);
          return true;
        }
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          sendError(res, 'method-not-allowed', 'use GET');
          return true;
        }
        if (route === 'head') {
          const view = producer.state();
          send(res, 200, {
            height: view.height,
            hash: view.headHash,
            stateRoot: view.stateRoot,
            block: producer.head() ?? null,
          });
          return true;
        }
        if (route === 'blocks') {
          const from = intParam(url.searchParams.get('from'), 1);
          const limit = intParam(url.searchParams.get('limit'), MAX_BLOCKS_PER_PAGE);
          if (from === undefined || limit === undefined) {
            sendError(res, 'malformed', 'from and limit must be non-negative integers');
            return true;
          }
          sendText(res, 200, await blocksPage(from, limit));
          return true;
        }
        if (route === 'state') {
          if (!url.searchParams.has('from') && !url.searchParams.has('limit')) {
            sendText(res, 200, stateText());
            return true;
          }
          const from = intParam(url.searchParams.get('from'), 0);
          const limit = intParam(url.searchParams.get('limit'), MAX_STATE_PAGE_UIDS);
          if (from === undefined || limit === undefined) {
            sendError(res, 'malformed', 'from and limit must be non-negative integers');
            return true;
          }
          send(res, 200, statePage(producer.state(), from, limit));
          return true;
        }
        if (route === 'summary') {
          sendText(res, 200, summaryText());
          return true;
        }
        if (route === 'genesis') {
          send(res, 200, producer.genesis);
          return true;
        }
        sendError(res, 'not-found', `no route /ledger/${route}`);
        return true;
      } catch (e) {
        if (!res.headersSent) sendError(res, 'internal', e instanceof Error ? e.message : String(e));
        return true;
      }
    },
  };
}

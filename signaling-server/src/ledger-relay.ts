/**
 * The ledger relay: ledger txs from signaling clients go to the LedgerHook,
 * their results come back; a `ledger-subscribe` pages the subscriber up from
 * its height, then streams each new block live, paced by what the client
 * reads. Blocks too large for one signaling message go out in parts
 * (packages/ledger/src/block-parts.ts), which the client's RemoteChain
 * reassembles before verifying.
 */
import { type BlockJson, type LedgerHook, splitBlock } from '@peerbench/ledger';
import {
  isLedgerSubmitErrorCode,
  MAX_SIGNALING_MESSAGE_BYTES,
  type ServerMessage,
} from '@peerbench/protocol';
import type { ConnectionHost } from './host.js';

/** Ledger transactions awaiting the hook, per connection. */
export const MAX_INFLIGHT_LEDGER_TXS_PER_CONNECTION = 16;
/** Blocks per `blocksFrom` page when catching a subscriber up. */
export const LEDGER_PAGE_BLOCKS = 64;
/** Catch-up pauses while more than this is buffered for the subscriber. */
export const LEDGER_CATCH_UP_BUFFER_BYTES = 256 * 1024;
/** Live blocks held while a subscriber is still catching up; beyond that it is closed (1013). */
export const MAX_LEDGER_LIVE_BACKLOG_BLOCKS = 1_024;
/** How often a paused catch-up looks at the subscriber's send buffer again. */
const LEDGER_DRAIN_POLL_MS = 20;
/** Room left in a signaling message for the `{"type":"ledger-block","block":…}` envelope around a block part. */
const LEDGER_BLOCK_ENVELOPE_BYTES = 256;

/** The part of the server's Connection the relay reads and writes. */
export interface LedgerSubscriber {
  readonly socket: { readonly bufferedAmount: number };
  readonly closed: boolean;
  /** Non-null once the connection joined a room (only members use the ledger). */
  readonly membership: object | null;
  /** Bumped on every (re)subscribe and on leave so stale catch-ups stop. */
  ledgerGeneration: number;
  ledgerUnsubscribe: (() => void) | null;
  ledgerTxsInFlight: number;
}

export class LedgerRelay<C extends LedgerSubscriber> {
  constructor(
    private readonly host: ConnectionHost<C>,
    /** Without one, ledger messages get `ledger-unavailable`. */
    private readonly ledger: LedgerHook | undefined,
  ) {}

  submitTx(conn: C, requestId: string, tx: unknown): void {
    const host = this.host;
    if (!conn.membership) {
      host.reject(conn, 'not-joined', 'join a room before sending ledger txs', requestId);
      return;
    }
    const ledger = this.ledger;
    if (!ledger) {
      host.reject(conn, 'ledger-unavailable', 'this server runs no ledger', requestId);
      return;
    }
    if (conn.ledgerTxsInFlight >= MAX_INFLIGHT_LEDGER_TXS_PER_CONNECTION) {
      const why = `at most ${MAX_INFLIGHT_LEDGER_TXS_PER_CONNECTION} ledger txs in flight`;
      host.reject(conn, 'rate-limited', why, requestId);
      return;
    }
    // The same per-address budget as POST /ledger/tx: the two paths together.
    if (!host.spend(conn, 'tx')) {
      host.reject(conn, 'rate-limited', 'this address is over its ledger tx budget', requestId);
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
          host.counters.ledgerTxsTotal.accepted++;
          result = { type: 'ledger-tx-result', requestId, ok: true };
        } else {
          host.counters.ledgerTxsTotal.rejected++;
          result = {
            type: 'ledger-tx-result',
            requestId,
            ok: false,
            // The hook is typed, but it is another package's code: never put an unknown code on the wire.
            code: isLedgerSubmitErrorCode(r.code) ? r.code : 'rejected',
            message: String(r.message).slice(0, 1024),
          };
        }
      } catch (err) {
        host.counters.ledgerTxsTotal.failed++;
        host.log(`ledger submitTx failed: ${(err as Error).message}`);
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
      host.send(conn, result);
    })();
    host.track(work);
  }

  /** Stops this connection's subscription (and any catch-up still paging). */
  cancel(conn: C): void {
    conn.ledgerGeneration++;
    conn.ledgerUnsubscribe?.();
    conn.ledgerUnsubscribe = null;
  }

  subscribe(conn: C, fromHeight: number): void {
    const host = this.host;
    if (!conn.membership) {
      host.reject(conn, 'not-joined', 'join a room before subscribing to blocks');
      return;
    }
    const ledger = this.ledger;
    if (!ledger) {
      host.reject(conn, 'ledger-unavailable', 'this server runs no ledger');
      return;
    }
    // A new subscription replaces the previous one (e.g. a client that
    // resubscribes after detecting a gap).
    this.cancel(conn);
    const generation = conn.ledgerGeneration;
    const current = () => conn.ledgerGeneration === generation && !conn.closed && host.running();
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
        if (host.sendText(conn, text)) host.counters.ledgerBlocksSentTotal++;
        return;
      }
      // Clients refuse messages over the protocol limit: a block of a few
      // hundred txs goes out in parts that the client's RemoteChain
      // reassembles (packages/ledger/src/block-parts.ts) before verifying.
      const parts = splitLedgerBlock(block);
      if (parts) {
        for (const part of parts) if (!host.sendText(conn, part)) return;
        host.counters.ledgerBlocksSentTotal++;
        host.counters.ledgerBlocksSentInPartsTotal++;
        return;
      }
      // Not a ledger block we can split: announce it as missing instead of silently dropping it.
      host.counters.ledgerBlocksOversizedTotal++;
      host.reject(
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
        host.closeSlowConsumer(conn);
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
      host.log(`ledger catch-up failed: ${(err as Error).message}`);
      this.cancel(conn);
      host.reject(conn, 'internal', 'the ledger failed to list blocks; subscribe again');
    });
    host.track(work);
  }
}

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

function blockHeight(block: unknown): number | undefined {
  if (typeof block !== 'object' || block === null) return undefined;
  const h = (block as { height?: unknown }).height;
  return typeof h === 'number' && Number.isInteger(h) ? h : undefined;
}

function delay(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

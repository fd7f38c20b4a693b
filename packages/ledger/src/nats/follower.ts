/**
 * Every clustered instance follows the block stream: each block is verified
 * as a light client does (LightClient: height, parent, timestamp, a genesis
 * producer's signature, tx root, replayed txs, state root), appended to the
 * local store (SQLite or memory), and only then announced. A message that
 * does not verify is reported and skipped; the state stays as it was.
 */
import type { ConsumerMessages, JetStreamClient } from '@nats-io/jetstream';
import type { BlockJson, ParsedBlock } from '../block.js';
import { isLedgerError } from '../errors.js';
import type { LightClient } from '../light-client.js';
import type { LedgerState, LedgerStateView } from '../state.js';
import type { LedgerStore } from '../store.js';
import { TX_FLOOR_HEADER } from './streams.js';

/** Tx hashes of this many recent blocks are remembered, so a new producer skips txs already included. */
export const DEFAULT_RECENT_BLOCKS_REMEMBERED = 1024;
/** Pull request lifetime; the idle heartbeat is half of it. */
export const PULL_EXPIRES_MS = 2000;
/** Pause before following again after the consumer's iterator ended or could not be created. */
export const RESUBSCRIBE_DELAY_MS = 250;

export interface FollowedBlock {
  readonly block: BlockJson;
  readonly hash: string;
  /** Block stream sequence of the message. */
  readonly seq: number;
}

export interface InvalidBlockReport {
  seq: number;
  code: string;
  message: string;
}

export interface BlockFollowerOptions {
  js: JetStreamClient;
  stream: string;
  client: LightClient;
  store: LedgerStore;
  head: BlockJson | undefined;
  snapshotEveryBlocks: number;
  recentBlocksRemembered?: number;
  onInvalidBlock?: (report: InvalidBlockReport) => void;
}

export class BlockFollower {
  private readonly js: JetStreamClient;
  private readonly stream: string;
  private readonly client: LightClient;
  private readonly store: LedgerStore;
  private readonly snapshotEvery: number;
  private readonly recentLimit: number;
  private readonly onInvalid: BlockFollowerOptions['onInvalidBlock'];
  private readonly subscribers = new Set<(b: FollowedBlock) => void>();
  private readonly waiters = new Set<() => void>();
  private readonly recent: string[][] = [];
  private readonly recentHashes = new Map<string, number>();
  private headBlock: BlockJson | undefined;
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private cachedView: LedgerStateView | undefined;
  private failure: Error | undefined;
  private stopped = false;
  /** Sequence of the last block stream message handled (valid or skipped). */
  lastSeq: number;
  /** Pb-Tx-Floor of the last valid block (1 before any). */
  txFloor = 1;

  constructor(options: BlockFollowerOptions) {
    this.js = options.js;
    this.stream = options.stream;
    this.client = options.client;
    this.store = options.store;
    this.snapshotEvery = Math.max(1, options.snapshotEveryBlocks);
    this.recentLimit = options.recentBlocksRemembered ?? DEFAULT_RECENT_BLOCKS_REMEMBERED;
    this.onInvalid = options.onInvalidBlock;
    this.headBlock = options.head;
    // Sequence = height while every message on the stream is a valid block
    // (only genesis producers write, each behind an expected-last-sequence check).
    this.lastSeq = this.client.height;
  }

  get height(): number {
    return this.client.height;
  }

  /** Verified state (treat as read-only). */
  get ledgerState(): LedgerState {
    return this.client.state;
  }

  state(): LedgerStateView {
    this.cachedView ??= this.client.state.view();
    return this.cachedView;
  }

  head(): BlockJson | undefined {
    return this.headBlock;
  }

  /** The error that stopped following (the local store failed), if any. */
  get error(): Error | undefined {
    return this.failure;
  }

  /** True if a tx with this hash is in one of the recently followed blocks. */
  includedRecently(txHash: string): boolean {
    return this.recentHashes.has(txHash);
  }

  onBlock(cb: (b: FollowedBlock) => void): () => void {
    this.subscribers.add(cb);
    return () => this.subscribers.delete(cb);
  }

  /** Resolves once the message with stream sequence `seq` has been handled (or following stopped). */
  async waitForSeq(seq: number, signal?: AbortSignal): Promise<void> {
    while (this.lastSeq < seq && this.loop && !signal?.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.waiters.delete(done);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        this.waiters.add(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  }

  /** Starts following; resolves once the first consumer is in place (later failures are retried). */
  async start(): Promise<void> {
    if (this.loop) return;
    this.stopped = false;
    let first: ((e?: unknown) => void) | undefined;
    const started = new Promise<void>((resolve, reject) => {
      first = (e) => (e === undefined ? resolve() : reject(e));
    });
    this.loop = (async () => {
      // An ordered consumer's iterator can end when NATS loses the node it
      // lived on and cannot recreate it at once: follow again from the next
      // sequence until stopped.
      while (!this.stopped && !this.failure) {
        try {
          const consumer = await this.js.consumers.get(this.stream, { opt_start_seq: this.lastSeq + 1 });
          // Short pulls: a missed heartbeat is noticed within ~2 s and the consumer recreated.
          const messages = await consumer.consume({ max_messages: 64, expires: PULL_EXPIRES_MS });
          this.messages = messages;
          first?.();
          first = undefined;
          for await (const m of messages) {
            await this.handle(m.seq, m.data, m.headers?.get(TX_FLOOR_HEADER));
            if (this.failure || this.stopped) break;
          }
        } catch (e) {
          if (first) {
            first(e);
            return;
          }
        }
        this.messages?.stop();
        this.messages = undefined;
        if (!this.stopped) await new Promise((r) => setTimeout(r, RESUBSCRIBE_DELAY_MS));
      }
    })().finally(() => {
      this.loop = undefined;
      this.wake();
    });
    await started;
  }

  /**
   * Drops the current consumer so the loop follows again from the next
   * sequence: the watchdog's remedy when the stream has moved on but no
   * message arrived (an ordered consumer whose node died can stall silently).
   */
  kick(): void {
    this.messages?.stop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.messages?.stop();
    this.messages = undefined;
    await this.loop?.catch(() => undefined);
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private async handle(seq: number, data: Uint8Array, floorHeader: string | undefined): Promise<void> {
    try {
      let json: unknown;
      try {
        json = JSON.parse(new TextDecoder().decode(data));
      } catch {
        this.onInvalid?.({ seq, code: 'malformed-block', message: 'block message is not JSON' });
        return;
      }
      const h = (json as { height?: unknown } | null)?.height;
      if (typeof h === 'number' && h <= this.client.height) return; // already applied (restart overlap)
      let block: ParsedBlock;
      try {
        block = await this.client.apply(json);
      } catch (e) {
        this.onInvalid?.({
          seq,
          code: isLedgerError(e) ? e.code : 'malformed-block',
          message: e instanceof Error ? e.message : String(e),
        });
        return;
      }
      const height = block.json.height;
      const snapshot =
        height % this.snapshotEvery === 0
          ? {
              height,
              headHash: block.hash,
              timestampMs: block.json.timestampMs,
              state: this.client.state.encode(),
            }
          : undefined;
      try {
        await this.store.appendBlock(block.json, block.hash, snapshot);
      } catch (e) {
        // The light client is now ahead of the store: stop rather than serve a store with a gap.
        this.failure = e instanceof Error ? e : new Error(String(e));
        return;
      }
      const floor = Number(floorHeader);
      if (Number.isSafeInteger(floor) && floor >= this.txFloor) this.txFloor = floor;
      this.remember(block);
      this.headBlock = block.json;
      this.cachedView = undefined;
      const followed: FollowedBlock = { block: block.json, hash: block.hash, seq };
      for (const cb of this.subscribers) {
        try {
          cb(followed);
        } catch {
          // one subscriber's bug must not stop following
        }
      }
    } finally {
      this.lastSeq = Math.max(this.lastSeq, seq);
      this.wake();
    }
  }

  private remember(block: ParsedBlock): void {
    const hashes = block.txs.map((t) => t.hash);
    this.recent.push(hashes);
    for (const h of hashes) this.recentHashes.set(h, (this.recentHashes.get(h) ?? 0) + 1);
    while (this.recent.length > this.recentLimit) {
      for (const h of this.recent.shift() ?? []) {
        const n = (this.recentHashes.get(h) ?? 1) - 1;
        if (n <= 0) this.recentHashes.delete(h);
        else this.recentHashes.set(h, n);
      }
    }
  }
}

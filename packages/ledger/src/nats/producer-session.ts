/**
 * One term as producer: from acquiring the lease until losing it. Catches up
 * with the block stream, reads the tx stream from the last block's
 * Pb-Tx-Floor in stream order, and every block interval builds a block with
 * the same buildBlock the embedded producer uses (txs already included are
 * skipped; each tx is re-checked against the state being built), then
 * appends it to the block stream with expect.lastSequence = the last
 * sequence this instance has applied: if anyone appended since, JetStream
 * refuses it and no height is produced twice. A block counts only once the
 * own follower has applied it from the stream.
 */
import type { ConsumerMessages, JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import type { Identity } from '@peerbench/protocol';
import { buildBlock } from '../block-builder.js';
import { type ParsedTx, parseTx } from '../transaction.js';
import { type BlockFollower, PULL_EXPIRES_MS, RESUBSCRIBE_DELAY_MS } from './follower.js';
import type { ProducerLease } from './lease.js';
import { type ClusterNames, TX_FLOOR_HEADER } from './streams.js';

/** Pending txs read from the stream but not yet decided; reading pauses above this. */
export const DEFAULT_MAX_PENDING_TXS = 16_384;
/** A block of our own not applied here by then (or by 2 block intervals) gets the follower resubscribed. */
export const OWN_BLOCK_KICK_MS = 1000;
/** Room left in a NATS message for the block header and JSON framing. */
const BLOCK_FRAMING_BYTES = 64 * 1024;

interface PendingTx {
  seq: number;
  tx: ParsedTx;
  bytes: number;
}

export interface ProducerSessionOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: ClusterNames;
  follower: BlockFollower;
  lease: ProducerLease;
  identity: Identity;
  blockIntervalMs: number;
  maxTxsPerBlock: number;
  /** NATS max_payload of the connection: a block message must fit. */
  maxPayloadBytes: number;
  snapshotEveryBlocks: number;
  publishTimeoutMs: number;
  maxPendingTxs?: number;
  now: () => number;
  /** Told about every produce attempt that did not land (refused, timed out). */
  onProduceError?: (error: Error) => void;
  onProduced?: (info: ProducedInfo) => void;
}

export interface ProducedInfo {
  height: number;
  txCount: number;
  buildMs: number;
}

export class ProducerSession {
  private readonly o: ProducerSessionOptions;
  private readonly abort = new AbortController();
  private pending: PendingTx[] = [];
  private maxSeqSeen = 0;
  private readonly roomWaiters = new Set<() => void>();
  private kickReader: (() => void) | undefined;
  private seenAtLastCheck = -1;
  /** A watchdog stream-info request still out (at most one). */
  private checking = false;
  private done: Promise<void> | undefined;
  /** Blocks this session got onto the stream. */
  produced = 0;
  /** Last successful block: height, tx count and time spent building and publishing it. */
  last: ProducedInfo | undefined;

  constructor(options: ProducerSessionOptions) {
    this.o = options;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  /** Runs until stop() or the lease stops being valid. */
  start(): Promise<void> {
    this.done ??= this.run().catch((e) => {
      this.o.onProduceError?.(e instanceof Error ? e : new Error(String(e)));
    });
    return this.done;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    for (const w of [...this.roomWaiters]) w();
    await this.done;
  }

  private async run(): Promise<void> {
    const { js, jsm, names, follower, lease } = this.o;
    const signal = this.abort.signal;
    // Catch up: the new term starts from the head every instance will see.
    const info = await jsm.streams.info(names.blockStream);
    await follower.waitForSeq(info.state.last_seq, signal);
    if (signal.aborted) return;
    let messages: ConsumerMessages | undefined;
    const reading = (async () => {
      // Restarted from the next unread sequence if the ordered consumer's iterator ends (its node died).
      let from = Math.max(1, follower.txFloor);
      while (!signal.aborted) {
        try {
          const consumer = await js.consumers.get(names.txStream, { opt_start_seq: from });
          const current = await consumer.consume({ max_messages: 256, expires: PULL_EXPIRES_MS });
          messages = current;
          this.kickReader = () => current.stop();
          if (signal.aborted) current.stop();
          for await (const m of messages) {
            while (
              this.pending.length >= (this.o.maxPendingTxs ?? DEFAULT_MAX_PENDING_TXS) &&
              !signal.aborted
            )
              await new Promise<void>((r) => {
                const w = () => {
                  this.roomWaiters.delete(w);
                  r();
                };
                this.roomWaiters.add(w);
              });
            if (signal.aborted) break;
            this.maxSeqSeen = Math.max(this.maxSeqSeen, m.seq);
            from = m.seq + 1;
            let tx: ParsedTx;
            try {
              tx = parseTx(JSON.parse(new TextDecoder().decode(m.data)));
            } catch {
              continue; // junk on the tx stream is decided at once: never a candidate
            }
            this.pending.push({ seq: m.seq, tx, bytes: m.data.length });
          }
        } catch {
          // consumer could not be created (no JetStream quorum yet): retry below
        }
        messages?.stop();
        if (!signal.aborted) await sleep(RESUBSCRIBE_DELAY_MS, signal);
      }
    })();
    try {
      // The first block of a term right away: the last one is at least a lease TTL old.
      let first = true;
      while (!signal.aborted && lease.valid) {
        if (!first) await sleep(this.o.blockIntervalMs, signal);
        first = false;
        if (signal.aborted || !lease.valid) break;
        try {
          await this.produceOne();
        } catch (e) {
          this.o.onProduceError?.(e instanceof Error ? e : new Error(String(e)));
        }
      }
    } finally {
      // However the term ended (stop, or a lease that lapsed), the reader ends with it: it
      // loops until the signal aborts, so a term whose lease lapsed never finished, and the
      // instance stayed "producer" with no block behind it (the failover test on a quiet machine).
      this.abort.abort();
      messages?.stop();
      for (const w of [...this.roomWaiters]) w();
      await reading.catch(() => undefined);
    }
  }

  /**
   * Watchdog, once per block: if the tx stream holds messages past what the
   * reader saw and the reader saw nothing new since the previous block, its
   * ordered consumer stalled (its node died): resubscribe from the next sequence.
   * Not awaited by the block: while the tx stream elects a new leader (4-9 s on
   * nats-server 2.9 after its leader's node died) the stream-info request waits
   * out its whole timeout, and awaiting it stopped production that long even
   * though blocks need only the block stream.
   */
  private checkReader(): void {
    const seen = this.maxSeqSeen;
    const stalled = seen === this.seenAtLastCheck;
    this.seenAtLastCheck = seen;
    if (!stalled || this.checking) return;
    this.checking = true;
    this.o.jsm.streams
      .info(this.o.names.txStream)
      .then(
        (info) => {
          if (info.state.last_seq > seen && this.maxSeqSeen === seen && !this.abort.signal.aborted)
            this.kickReader?.();
        },
        () => {
          // no answer now: check again next block
        },
      )
      .finally(() => {
        this.checking = false;
      });
  }

  private async produceOne(): Promise<void> {
    const { follower, lease, identity } = this.o;
    const started = this.o.now();
    this.checkReader();
    const expectSeq = follower.lastSeq;
    const base = follower.ledgerState;
    // Txs another term already put into a block are decided.
    this.pending = this.pending.filter((p) => !follower.includedRecently(p.tx.hash));
    const maxBytes = this.o.maxPayloadBytes - BLOCK_FRAMING_BYTES;
    const taken: PendingTx[] = [];
    let bytes = 0;
    for (const p of this.pending) {
      if (taken.length >= this.o.maxTxsPerBlock || bytes + p.bytes > maxBytes) break;
      taken.push(p);
      bytes += p.bytes;
    }
    const built = await buildBlock(
      base,
      taken.map((p) => p.tx),
      identity,
      started,
      this.o.snapshotEveryBlocks,
    );
    const deferred = new Set(built.deferred);
    const takenSet = new Set(taken);
    // Undecided after this block: deferred registrations and everything not taken.
    const undecided = this.pending.filter((p) => !takenSet.has(p) || deferred.has(p.tx));
    const floor = undecided.length > 0 ? Math.min(...undecided.map((p) => p.seq)) : this.maxSeqSeen + 1;
    if (!lease.valid) return;
    const h = headers();
    h.set(TX_FLOOR_HEADER, String(floor));
    const ack = await this.o.js.publish(this.o.names.blockSubject, JSON.stringify(built.block.json), {
      msgID: built.block.hash,
      expect: { lastSequence: expectSeq },
      headers: h,
      timeout: this.o.publishTimeoutMs,
    });
    // Usually applied within milliseconds. If not soon, the own follower's consumer
    // likely sat on a NATS node that died: resubscribe now rather than at the
    // watchdog's second look, then wait out the rest of the bound.
    const kickAfterMs = Math.min(
      this.o.publishTimeoutMs,
      Math.max(OWN_BLOCK_KICK_MS, 2 * this.o.blockIntervalMs),
    );
    await follower.waitForSeq(
      ack.seq,
      AbortSignal.any([this.abort.signal, AbortSignal.timeout(kickAfterMs)]),
    );
    if (follower.lastSeq < ack.seq && !this.abort.signal.aborted) {
      follower.kick();
      await follower.waitForSeq(
        ack.seq,
        AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.o.publishTimeoutMs - kickAfterMs)]),
      );
    }
    if (follower.lastSeq < ack.seq && !this.abort.signal.aborted) {
      // The own follower is stuck: a producer that cannot see its blocks must not go on; end the term.
      this.abort.abort();
      throw new Error(
        `block ${built.block.json.height} appended but not applied here within ${this.o.publishTimeoutMs} ms`,
      );
    }
    this.pending = this.pending.filter((p) => !takenSet.has(p) || deferred.has(p.tx));
    for (const w of [...this.roomWaiters]) w();
    this.produced++;
    this.last = {
      height: built.block.json.height,
      txCount: built.included.length,
      buildMs: this.o.now() - started,
    };
    this.o.onProduced?.(this.last);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

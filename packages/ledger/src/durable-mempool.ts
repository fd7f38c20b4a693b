/**
 * "ok means on disk": the pieces that make an acknowledged tx durable.
 * A store that can keep the mempool (SqliteStore) implements
 * DurableMempoolStore; the producer writes admitted txs through a GroupCommit
 * (one store write per event-loop turn, however many txs arrived in it) and
 * answers `{ ok: true }` only after the write that holds the tx committed.
 * Txs leave the table in the same store transaction as the block that
 * includes (or drops) them, and are re-admitted on open.
 */
import type { LedgerStore } from './store.js';

/** One admitted, not yet included tx as kept on disk: its hash and its wire JSON. */
export interface PendingTxRow {
  hash: string;
  json: string;
}

export interface DurableMempoolStore {
  /** Stores the rows in one transaction (all or none), durable when it resolves. */
  persistPending(rows: readonly PendingTxRow[]): Promise<void>;
  /** Every stored row, in the order it was persisted. */
  pendingTxs(): Promise<PendingTxRow[]>;
  /** Deletes these rows (unknown hashes are ignored). */
  removePending(hashes: readonly string[]): Promise<void>;
}

export function hasDurableMempool(store: LedgerStore): store is LedgerStore & DurableMempoolStore {
  const s = store as Partial<DurableMempoolStore>;
  return (
    typeof s.persistPending === 'function' &&
    typeof s.pendingTxs === 'function' &&
    typeof s.removePending === 'function'
  );
}

/** What reopening the mempool found: re-admitted txs and those dropped because they no longer apply. */
export interface MempoolRecovery {
  readonly restored: number;
  readonly dropped: number;
}

interface Waiter<T> {
  item: T;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * Default group-commit window: items added within this many ms of the first
 * one of a batch share one store write (one fsync). 0 means one write per
 * event-loop turn.
 */
export const DEFAULT_GROUP_COMMIT_WINDOW_MS = 4;

/**
 * Group commit: items added within `windowMs` of the batch's first item (or,
 * with 0, during one event-loop turn) are written by one `write` call; each
 * add() resolves once the write holding its item resolved, and rejects with
 * its error. Writes run one after another, in the order the items were added.
 */
export class GroupCommit<T> {
  private batch: Array<Waiter<T>> = [];
  private scheduled = false;
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly write: (items: T[]) => Promise<void>,
    private readonly windowMs = 0,
  ) {}

  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.batch.push({ item, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      if (this.windowMs > 0) setTimeout(() => this.flush(), this.windowMs);
      else setImmediate(() => this.flush());
    });
  }

  /** Resolves when every write started so far has finished (successfully or not). */
  async idle(): Promise<void> {
    while (this.scheduled || this.batch.length > 0) await new Promise((r) => setImmediate(r));
    await this.tail;
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.batch;
    this.batch = [];
    if (batch.length === 0) return;
    this.tail = this.tail
      .then(() => this.write(batch.map((w) => w.item)))
      .then(
        () => {
          for (const w of batch) w.resolve();
        },
        (e: unknown) => {
          for (const w of batch) w.reject(e);
        },
      );
  }
}

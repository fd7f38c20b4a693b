/**
 * The table of calls waiting for an answer, written once for every
 * request/response place (the mesh's RPC session and pings, the signaling
 * client's ledger txs, the worker bridges). A call gets an id, an optional
 * deadline and an optional AbortSignal; it settles exactly once, by its
 * answer (`resolve`/`reject`), its deadline, its signal, or `rejectAll` when
 * the owner stops; whichever comes first wins and cleans up the timer and the
 * abort listener, so nothing is left behind on a shared signal.
 */

/** How a call gave up by itself (the owner may want to tell the other side). */
export type GiveUpReason = 'timeout' | 'aborted';

export interface PendingCallsOptions<Ctx> {
  /** The error a call rejects with when its deadline passes. */
  timeoutError(timeoutMs: number, context: Ctx): Error;
  /** The error a call rejects with when its AbortSignal aborts. */
  abortError(context: Ctx): Error;
  /**
   * Runs once after a call gave up by deadline or signal (not after an
   * answer or `rejectAll`): e.g. send a cancel to the side still working on it.
   */
  onGiveUp?(id: number, reason: GiveUpReason, context: Ctx): void;
  /** Largest id before the counter wraps to 1 (ids are never 0). Default 2^32 − 1 (a u32 on the wire). */
  maxId?: number;
}

export interface AddCallOptions<Ctx> {
  /** No deadline when undefined. */
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
  /** Per-call data the owner reads back with `context(id)` (e.g. what was sent, a start time). */
  context: Ctx;
}

export interface PendingCall<T> {
  readonly id: number;
  readonly promise: Promise<T>;
}

interface Entry<T, Ctx> {
  resolve(value: T): void;
  reject(err: unknown): void;
  context: Ctx;
  timer: ReturnType<typeof setTimeout> | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export const MAX_CALL_ID = 0xffff_ffff;

export class PendingCalls<T, Ctx = undefined> {
  private readonly entries = new Map<number, Entry<T, Ctx>>();
  private readonly opts: PendingCallsOptions<Ctx>;
  private readonly maxId: number;
  private nextId = 1;

  constructor(opts: PendingCallsOptions<Ctx>) {
    this.opts = opts;
    this.maxId = opts.maxId ?? MAX_CALL_ID;
  }

  /** Calls waiting for an answer. */
  get size(): number {
    return this.entries.size;
  }

  has(id: number): boolean {
    return this.entries.has(id);
  }

  /** The context given to `add`, while the call is pending. */
  context(id: number): Ctx | undefined {
    return this.entries.get(id)?.context;
  }

  /**
   * Registers a call. An already aborted signal rejects it at once (the id is
   * still returned, and is no longer pending). Send the request after this,
   * with the returned id; if sending fails, `reject(id, err)`.
   */
  add(opts: AddCallOptions<Ctx>): PendingCall<T> {
    const id = this.takeId();
    let settle!: Pick<Entry<T, Ctx>, 'resolve' | 'reject'>;
    const promise = new Promise<T>((resolve, reject) => {
      settle = { resolve, reject };
    });
    const entry: Entry<T, Ctx> = {
      ...settle,
      context: opts.context,
      timer: undefined,
      signal: opts.signal,
      onAbort: undefined,
    };
    if (opts.signal?.aborted) {
      entry.reject(this.opts.abortError(opts.context));
      return { id, promise };
    }
    this.entries.set(id, entry);
    if (opts.timeoutMs !== undefined) {
      const ms = opts.timeoutMs;
      entry.timer = setTimeout(
        () => this.giveUp(id, 'timeout', this.opts.timeoutError(ms, opts.context)),
        ms,
      );
    }
    if (opts.signal) {
      entry.onAbort = () => this.giveUp(id, 'aborted', this.opts.abortError(opts.context));
      opts.signal.addEventListener('abort', entry.onAbort, { once: true });
    }
    return { id, promise };
  }

  /** Settles call `id` with its answer; false when it is not pending (late, duplicate or unknown). */
  resolve(id: number, value: T): boolean {
    const e = this.take(id);
    if (!e) return false;
    e.resolve(value);
    return true;
  }

  /** Fails call `id`; false when it is not pending. */
  reject(id: number, err: unknown): boolean {
    const e = this.take(id);
    if (!e) return false;
    e.reject(err);
    return true;
  }

  /** Fails every pending call with `err` (the owner stops); the table is empty after. */
  rejectAll(err: unknown): void {
    for (const id of [...this.entries.keys()]) this.reject(id, err);
  }

  private giveUp(id: number, reason: GiveUpReason, err: Error): void {
    const e = this.take(id);
    if (!e) return;
    e.reject(err);
    this.opts.onGiveUp?.(id, reason, e.context);
  }

  /** Removes a pending entry and its timer and abort listener. */
  private take(id: number): Entry<T, Ctx> | undefined {
    const e = this.entries.get(id);
    if (!e) return undefined;
    this.entries.delete(id);
    if (e.timer !== undefined) clearTimeout(e.timer);
    if (e.onAbort) e.signal?.removeEventListener('abort', e.onAbort);
    return e;
  }

  /** The next id not in use (wrapping at maxId, never 0). */
  private takeId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = id >= this.maxId ? 1 : id + 1;
      if (!this.entries.has(id)) return id;
    }
  }
}

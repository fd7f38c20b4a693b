/**
 * The ledger rides the signaling socket: transactions go up as `ledger-tx`
 * (answered by `ledger-tx-result`, or an `error` naming the request), blocks
 * come down after a `ledger-subscribe`. The server links ledger traffic to
 * the peer that joined on that socket, so a second connection with the same
 * peer id (which would replace the first) is never needed.
 *
 * `LedgerChannel` is the signaling client's half (pending txs, the
 * subscription renewed after a reconnect); `signalingLedgerTransport` is the
 * one adapter from a signaling client to the ledger's `LedgerTransport`
 * (packages/ledger's RemoteChain takes it; the type is structural so this
 * package does not depend on the ledger).
 */
import { type ClientMessage, PendingCalls, toHex } from '@peerbench/protocol';

/** How long a ledger tx waits for its result before resolving {ok:false, code:'timeout'}. */
export const LEDGER_TX_TIMEOUT_MS = 10_000;

export interface LedgerTxResult {
  ok: boolean;
  code?: string;
  message?: string;
}

/** What packages/ledger's RemoteChain needs from a transport (the same shape as its LedgerTransport). */
export interface LedgerTransport {
  /** Submits a transaction (JSON form); resolves with the producer's verdict, never rejects. */
  sendTx(txJson: unknown): Promise<LedgerTxResult>;
  /** Delivers blocks with height ≥ fromHeight (JSON form, or parts of large blocks); returns unsubscribe. */
  subscribe(fromHeight: number, onBlockJson: (block: unknown) => void): () => void;
}

/** A tx that did not get an answer: the code says why. */
class TxNotAnswered extends Error {
  constructor(
    readonly code: 'timeout' | 'closed',
    message: string,
  ) {
    super(message);
  }
}

export class LedgerChannel {
  private readonly txs = new PendingCalls<LedgerTxResult>({
    timeoutError: () => new TxNotAnswered('timeout', 'no ledger-tx-result in time'),
    abortError: () => new TxNotAnswered('closed', 'aborted'),
  });
  /** Tx request ids are this prefix and the table's id: unique per client, so answers find their call. */
  private readonly prefix = `${Date.now().toString(36)}-${randomHex(4)}-`;
  private fromHeight: number | undefined;

  constructor(
    private readonly send: (msg: ClientMessage) => boolean,
    private readonly txTimeoutMs = LEDGER_TX_TIMEOUT_MS,
  ) {}

  /** Submits a ledger transaction; resolves with the server's verdict (never rejects). */
  sendTx(tx: unknown): Promise<LedgerTxResult> {
    const call = this.txs.add({ timeoutMs: this.txTimeoutMs, context: undefined });
    if (!this.send({ type: 'ledger-tx', requestId: `${this.prefix}${call.id}`, tx })) {
      this.txs.resolve(call.id, { ok: false, code: 'not-connected', message: 'signaling is not connected' });
    }
    return call.promise.catch((e: unknown) =>
      e instanceof TxNotAnswered
        ? { ok: false, code: e.code, message: e.message }
        : { ok: false, code: 'closed', message: String(e) },
    );
  }

  /**
   * Asks for every block from `fromHeight` on, then each new one. Remembered:
   * after a reconnect the subscription is renewed from the block after the
   * last one received.
   */
  subscribe(fromHeight: number): void {
    this.fromHeight = fromHeight;
    this.send({ type: 'ledger-subscribe', fromHeight });
  }

  /** After a (re)join: renew the subscription, if any. */
  resubscribe(): void {
    if (this.fromHeight !== undefined) this.subscribe(this.fromHeight);
  }

  /** A `ledger-tx-result` or an `error` naming a request: settles that tx; false when it is not ours or late. */
  answer(requestId: string, result: LedgerTxResult): boolean {
    if (!requestId.startsWith(this.prefix)) return false;
    const id = Number(requestId.slice(this.prefix.length));
    return Number.isSafeInteger(id) && this.txs.resolve(id, result);
  }

  /** A block passed by: a subscriber resumes after it on reconnect. */
  sawBlock(block: unknown): void {
    const height = (block as { height?: unknown } | null)?.height;
    if (typeof height !== 'number' || !Number.isInteger(height) || height < 0) return;
    if (this.fromHeight !== undefined && height + 1 > this.fromHeight) this.fromHeight = height + 1;
  }

  /** Answers every pending tx with `closed`. The subscription is kept for a later start. */
  stop(): void {
    this.txs.rejectAll(new TxNotAnswered('closed', 'signaling client stopped'));
  }

  /** Txs waiting for an answer. */
  get pendingTxs(): number {
    return this.txs.size;
  }
}

/** The part of SignalingClient the ledger transport uses. */
export interface LedgerSignaling {
  sendLedgerTx(tx: unknown): Promise<LedgerTxResult>;
  subscribeLedger(fromHeight: number): void;
  on(event: 'ledger-block', cb: (block: unknown) => void): () => void;
}

/** The ledger's transport over a signaling client's socket (the server links it to the joined peer). */
export function signalingLedgerTransport(signaling: LedgerSignaling): LedgerTransport {
  return {
    sendTx: (tx) => signaling.sendLedgerTx(tx),
    subscribe: (fromHeight, onBlock) => {
      const off = signaling.on('ledger-block', (b) => onBlock(b));
      signaling.subscribeLedger(fromHeight);
      return off;
    },
  };
}

function randomHex(bytes: number): string {
  return toHex(globalThis.crypto.getRandomValues(new Uint8Array(bytes)));
}

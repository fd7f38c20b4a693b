/**
 * The ledger's transport across a MessagePort. In the browser the ledger
 * rides the signaling WebSocket (`ledger-tx`, `ledger-subscribe` on the same
 * connection that joined the room — a second connection with the same peer id
 * would replace the first), and that socket belongs to the mesh on the main
 * thread. So only the two transport functions cross the port; the
 * RemoteChain, its light client (hashes, Ed25519 signature checks, state
 * transitions) and the weight-tx signing run in the worker.
 *
 *  worker: `new PortLedgerTransport(port)` is a LedgerTransport.
 *  main:   `exposeLedgerTransport(port, transport)` serves it.
 *
 * Blocks cross as JSON-like values and are verified by the worker's light
 * client, which is the check that matters; here only the envelope is checked.
 */
import type { LedgerTransport } from '@peerbench/mesh';
import { PendingCalls } from '@peerbench/protocol';
import * as v from 'valibot';
import type { BridgeOptions, MessagePortLike } from './port.js';
import { CallIdSchema, MessageTextSchema, PortInbox } from './port.js';

/** Longest the worker waits for the main thread to answer a transaction. */
export const LEDGER_TX_BRIDGE_TIMEOUT_MS = 30_000;

const HeightSchema = v.pipe(v.number(), v.integer(), v.minValue(0));

const UpSchema = v.variant('t', [
  v.object({ t: v.literal('tx'), id: CallIdSchema, tx: v.unknown() }),
  v.object({ t: v.literal('subscribe'), id: CallIdSchema, from: HeightSchema }),
  v.object({ t: v.literal('unsubscribe'), id: CallIdSchema }),
  v.object({ t: v.literal('close') }),
]);

const TxResultSchema = v.object({
  ok: v.boolean(),
  code: v.optional(MessageTextSchema),
  message: v.optional(MessageTextSchema),
});

const DownSchema = v.variant('t', [
  v.object({ t: v.literal('tx-result'), id: CallIdSchema, result: TxResultSchema }),
  v.object({ t: v.literal('block'), sub: CallIdSchema, block: v.unknown() }),
]);

type TxResult = v.InferOutput<typeof TxResultSchema>;

/** A transaction that got no answer from the main thread: the code says why. */
class TxNotAnswered extends Error {
  constructor(
    readonly code: 'timeout' | 'closed',
    message: string,
  ) {
    super(message);
  }
}

/** Worker side: a LedgerTransport whose socket is on the main thread. */
export class PortLedgerTransport implements LedgerTransport {
  private readonly txs = new PendingCalls<TxResult>({
    timeoutError: () => new TxNotAnswered('timeout', 'no answer from the main thread'),
    abortError: () => new TxNotAnswered('closed', 'aborted'),
  });
  private readonly subs = new Map<number, (block: unknown) => void>();
  /** Subscription ids (transactions take theirs from the table). */
  private nextSubscriptionId = 1;
  private readonly inbox: PortInbox<typeof DownSchema>;

  constructor(
    private readonly port: MessagePortLike,
    opts: BridgeOptions = {},
  ) {
    this.inbox = new PortInbox(port, DownSchema, (msg) => this.onMessage(msg), opts);
  }

  /** Messages from the main thread dropped because they failed validation. */
  get dropped(): number {
    return this.inbox.dropped;
  }

  sendTx(txJson: unknown): Promise<TxResult> {
    if (this.inbox.closed)
      return Promise.resolve({ ok: false, code: 'closed', message: 'the ledger bridge is closed' });
    const call = this.txs.add({ timeoutMs: LEDGER_TX_BRIDGE_TIMEOUT_MS, context: undefined });
    this.port.postMessage({ t: 'tx', id: call.id, tx: txJson }, []);
    return call.promise.catch((e: unknown) => ({
      ok: false,
      code: e instanceof TxNotAnswered ? e.code : 'closed',
      message: e instanceof Error ? e.message : String(e),
    }));
  }

  subscribe(fromHeight: number, onBlockJson: (block: unknown) => void): () => void {
    if (this.inbox.closed) return () => {};
    const id = this.nextSubscriptionId++;
    this.subs.set(id, onBlockJson);
    this.port.postMessage({ t: 'subscribe', id, from: fromHeight }, []);
    return () => {
      if (!this.subs.delete(id) || this.inbox.closed) return;
      this.port.postMessage({ t: 'unsubscribe', id }, []);
    };
  }

  /** Calls, subscriptions and transactions in flight (0 after close). */
  get pendingCount(): number {
    return this.txs.size + this.subs.size;
  }

  /** Answers pending transactions with `closed`, ends subscriptions, tells the main thread. */
  close(): void {
    if (!this.inbox.close()) return;
    this.txs.rejectAll(new TxNotAnswered('closed', 'the ledger bridge was closed'));
    this.subs.clear();
    this.port.postMessage({ t: 'close' }, []);
  }

  private onMessage(msg: v.InferOutput<typeof DownSchema>): void {
    if (msg.t === 'tx-result') {
      this.txs.resolve(msg.id, msg.result);
      return;
    }
    this.subs.get(msg.sub)?.(msg.block);
  }
}

export interface ExposedLedger {
  stop(): void;
  /** Live subscriptions (0 after stop). */
  readonly subscriptions: number;
  readonly dropped: number;
}

/** Main side: serves the worker's PortLedgerTransport with a real transport. */
export function exposeLedgerTransport(
  port: MessagePortLike,
  transport: LedgerTransport,
  opts: BridgeOptions = {},
): ExposedLedger {
  const subs = new Map<number, () => void>();
  const post = (m: unknown) => {
    if (!inbox.closed) port.postMessage(m, []);
  };
  const unsubscribeAll = () => {
    for (const off of subs.values()) off();
    subs.clear();
  };
  const inbox = new PortInbox(
    port,
    UpSchema,
    (msg) => {
      switch (msg.t) {
        case 'tx':
          transport.sendTx(msg.tx).then(
            (result) =>
              post({
                t: 'tx-result',
                id: msg.id,
                result: {
                  ok: result.ok,
                  ...(result.code !== undefined ? { code: String(result.code).slice(0, 2000) } : {}),
                  ...(result.message !== undefined ? { message: String(result.message).slice(0, 2000) } : {}),
                },
              }),
            (err: unknown) =>
              post({
                t: 'tx-result',
                id: msg.id,
                result: {
                  ok: false,
                  code: 'transport',
                  message: String((err as Error)?.message ?? err).slice(0, 2000),
                },
              }),
          );
          return;
        case 'subscribe': {
          subs.get(msg.id)?.();
          const id = msg.id;
          subs.set(
            id,
            transport.subscribe(msg.from, (block) => post({ t: 'block', sub: id, block })),
          );
          return;
        }
        case 'unsubscribe':
          subs.get(msg.id)?.();
          subs.delete(msg.id);
          return;
        case 'close':
          // The worker's transport closed (its Peer stopped); a restarted Peer subscribes again on this port.
          unsubscribeAll();
          return;
      }
    },
    opts,
  );
  return {
    stop: () => {
      if (inbox.close()) unsubscribeAll();
    },
    get subscriptions() {
      return subs.size;
    },
    get dropped() {
      return inbox.dropped;
    },
  };
}

/**
 * What a peer needs from "the chain": submit a tx, hear about new heads, read
 * the state. LocalChain wraps an in-process BlockProducer (tests, swarm);
 * RemoteChain talks to a producer elsewhere through a tiny transport and
 * trusts only what its LightClient verified. An external chain would be a
 * third implementation; the peer would not change.
 */
import { type LedgerSubmitResult, toLedgerSubmitErrorCode } from '@peerbench/protocol';
import type { BlockJson } from './block.js';
import { BlockPartAssembler, isBlockPart } from './block-parts.js';
import { isLedgerError } from './errors.js';
import type { GenesisConfig } from './genesis.js';
import { LightClient } from './light-client.js';
import type { BlockProducer } from './producer.js';
import type { LedgerStateView } from './state.js';
import type { TxJson } from './transaction.js';

export interface ChainHead {
  height: number;
  hash: string;
  timestampMs: number;
  stateRoot: string;
  txCount: number;
}

/** `code` is a typed union (protocol's LedgerSubmitErrorCode): branch on it, never match it as text. */
export type ChainSubmitResult = LedgerSubmitResult;

export interface Chain {
  submitTx(tx: TxJson): Promise<ChainSubmitResult>;
  /** cb runs once per new verified head, with the state after it. Returns an unsubscribe function. */
  subscribeHeads(cb: (head: ChainHead, state: LedgerStateView) => void): () => void;
  /** The latest verified state. */
  state(): LedgerStateView;
}

export class LocalChain implements Chain {
  constructor(private readonly producer: BlockProducer) {}

  async submitTx(tx: TxJson): Promise<ChainSubmitResult> {
    const r = await this.producer.submitTx(tx);
    return r.ok ? { ok: true } : { ok: false, code: r.code, message: r.message };
  }

  subscribeHeads(cb: (head: ChainHead, state: LedgerStateView) => void): () => void {
    return this.producer.onBlock(({ block, hash, state }) => cb(headOf(block, hash), state));
  }

  state(): LedgerStateView {
    return this.producer.state();
  }
}

function headOf(block: BlockJson, hash: string): ChainHead {
  return {
    height: block.height,
    hash,
    timestampMs: block.timestampMs,
    stateRoot: block.stateRoot,
    txCount: block.txs.length,
  };
}

/**
 * The seam to the signaling socket. packages/mesh provides it over the
 * signaling connection (`joinNetwork(...).ledger`, or
 * `signalingLedgerTransport(client)`); the worker bridge carries it across a
 * MessagePort.
 */
export interface LedgerTransport {
  sendTx(txJson: unknown): Promise<{ ok: boolean; code?: string; message?: string }>;
  /**
   * Deliver blocks with height ≥ fromHeight (JSON form), in order where
   * possible; returns unsubscribe. Blocks too large for one signaling message
   * arrive as parts (block-parts.ts); pass them on as received, RemoteChain
   * reassembles them.
   */
  subscribe(fromHeight: number, onBlockJson: (block: unknown) => void): () => void;
}

export interface RemoteChainOptions {
  transport: LedgerTransport;
  /** The chain's genesis (GET /ledger/genesis); the light client trusts only it. */
  genesis: GenesisConfig;
  /** Blocks buffered ahead of a gap before the oldest are dropped. */
  maxBufferedBlocks?: number;
  /** Called when a received block fails verification (it is dropped; state unchanged). */
  onInvalidBlock?: (error: { code: string; message: string; height: number | undefined }) => void;
}

/** Chain over a remote producer: every block is verified by a LightClient before it shows up in state(). */
export class RemoteChain implements Chain {
  private readonly client: LightClient;
  private readonly transport: LedgerTransport;
  private readonly maxBuffered: number;
  private readonly onInvalid: RemoteChainOptions['onInvalidBlock'];
  private readonly buffer = new Map<number, unknown>();
  private readonly parts = new BlockPartAssembler();
  private readonly heads = new Set<(head: ChainHead, state: LedgerStateView) => void>();
  private unsubscribe: (() => void) | undefined;
  private draining: Promise<void> = Promise.resolve();
  private view: LedgerStateView | undefined;

  constructor(options: RemoteChainOptions) {
    this.client = new LightClient(options.genesis);
    this.transport = options.transport;
    this.maxBuffered = options.maxBufferedBlocks ?? 1024;
    this.onInvalid = options.onInvalidBlock;
  }

  /** Subscribes from the block after the verified head (height 1 on a fresh client). */
  start(): void {
    if (this.unsubscribe) return;
    this.unsubscribe = this.transport.subscribe(this.client.height + 1, (b) => this.receive(b));
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  get height(): number {
    return this.client.height;
  }

  /** Resolves once all blocks received so far have been verified (or rejected). */
  idle(): Promise<void> {
    return this.draining;
  }

  async submitTx(tx: TxJson): Promise<ChainSubmitResult> {
    try {
      const r = await this.transport.sendTx(tx);
      if (r.ok) return { ok: true };
      const code = toLedgerSubmitErrorCode(r.code);
      const message = r.message ?? '';
      // A code renamed on the way (e.g. `not-joined` → `unavailable`) stays readable in the message.
      return {
        ok: false,
        code,
        message: r.code === undefined || r.code === code ? message : `${r.code}: ${message}`,
      };
    } catch (e) {
      return { ok: false, code: 'unavailable', message: e instanceof Error ? e.message : String(e) };
    }
  }

  subscribeHeads(cb: (head: ChainHead, state: LedgerStateView) => void): () => void {
    this.heads.add(cb);
    return () => this.heads.delete(cb);
  }

  state(): LedgerStateView {
    this.view ??= this.client.state.view();
    return this.view;
  }

  private receive(received: unknown): void {
    let block = received;
    if (isBlockPart(block)) {
      block = this.parts.add(block);
      if (block === undefined) return; // more parts to come (or junk)
    }
    const h = heightOf(block);
    if (h === undefined || h <= this.client.height) return; // duplicate or junk: nothing to do
    if (this.buffer.size >= this.maxBuffered && !this.buffer.has(h)) {
      const farthest = Math.max(...this.buffer.keys()); // keep the blocks we can verify soonest
      this.buffer.delete(farthest);
    }
    this.buffer.set(h, block);
    this.draining = this.draining.then(() => this.drain());
  }

  private async drain(): Promise<void> {
    for (;;) {
      const nextHeight = this.client.height + 1;
      const b = this.buffer.get(nextHeight);
      if (b === undefined) return;
      this.buffer.delete(nextHeight);
      try {
        const parsed = await this.client.apply(b);
        this.view = undefined;
        const head = headOf(parsed.json, parsed.hash);
        const state = this.state();
        for (const cb of this.heads) {
          try {
            cb(head, state);
          } catch {
            // one listener's bug must not stop verification
          }
        }
      } catch (e) {
        const code = isLedgerError(e) ? e.code : 'malformed-block';
        this.onInvalid?.({ code, message: e instanceof Error ? e.message : String(e), height: nextHeight });
      }
    }
  }
}

function heightOf(block: unknown): number | undefined {
  if (typeof block !== 'object' || block === null) return undefined;
  const h = (block as { height?: unknown }).height;
  return typeof h === 'number' && Number.isSafeInteger(h) ? h : undefined;
}

/**
 * Light client: trusts nothing but the genesis. For each block it checks the
 * height, parent link, timestamp, producer signature and tx root, replays the
 * txs (with their signatures) on a copy of its state and compares the state
 * root; only then does the copy become its state. No Node APIs: this file and
 * everything it imports run unchanged in a browser (replayChain below).
 */
import * as v from 'valibot';
import { type BlockJson, type ParsedBlock, parseBlock, txRoot, verifyBlockSignature } from './block.js';
import { isLedgerError, LedgerError } from './errors.js';
import { type GenesisConfig, parseGenesis, producersOf } from './genesis.js';
import type { LedgerState as LedgerStateType } from './state.js';
import { LedgerState } from './state.js';
import { verifyTxSignature } from './transaction.js';

export interface LightClientOptions {
  /** Verify every tx signature while replaying (default true; the producer skips it, having checked at admission). */
  verifyTxSignatures?: boolean;
  /** Start from this (already trusted) state instead of genesis, e.g. a snapshot from the own store. */
  from?: LedgerState;
}

/**
 * Replays `block`'s txs on `base` (mutating it) and finishes the block.
 * Throws LedgerError('bad-tx') naming the tx and the inner code.
 */
export async function replayBlockBody(
  base: LedgerState,
  block: ParsedBlock,
  verifySignatures: boolean,
): Promise<void> {
  const checks: Array<Promise<boolean>> = [];
  for (let k = 0; k < block.txs.length; k++) {
    const tx = block.txs[k]!;
    try {
      base.checkTx(tx);
    } catch (e) {
      if (isLedgerError(e)) throw new LedgerError('bad-tx', `tx ${k} (${tx.kind}): ${e.code}: ${e.message}`);
      throw e;
    }
    if (verifySignatures) checks.push(verifyTxSignature(tx, base.signerKey(tx)));
    base.applyTx(tx);
  }
  const results = await Promise.all(checks);
  const bad = results.indexOf(false);
  if (bad >= 0) throw new LedgerError('bad-tx', `tx ${bad}: bad-signature`);
  base.finishBlock(block.json.height, block.hash, block.json.timestampMs);
}

export class LightClient {
  readonly genesis: GenesisConfig;
  private current: LedgerState;
  private readonly verifyTxSignatures: boolean;
  private readonly producers: ReadonlySet<string>;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(genesis: GenesisConfig, options: LightClientOptions = {}) {
    this.genesis = parseGenesis(genesis);
    this.current = options.from ?? new LedgerState(this.genesis);
    this.verifyTxSignatures = options.verifyTxSignatures ?? true;
    this.producers = new Set(producersOf(this.genesis));
  }

  /** The verified state. Treat as read-only. */
  get state(): LedgerStateType {
    return this.current;
  }

  get height(): number {
    return this.current.height;
  }

  /**
   * Verifies and applies the next block. On any failure the state is left
   * exactly as it was and a LedgerError says why (malformed-block, bad-height,
   * bad-parent, bad-timestamp, bad-producer-signature, bad-tx-root, bad-tx,
   * bad-state-root). Calls are serialised.
   */
  apply(input: unknown): Promise<ParsedBlock> {
    const run = this.queue.then(() => this.applyNow(input));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async applyNow(input: unknown): Promise<ParsedBlock> {
    const block = parseBlock(input);
    const b = block.json;
    const s = this.current;
    if (b.height !== s.height + 1)
      throw new LedgerError('bad-height', `expected height ${s.height + 1}, got ${b.height}`);
    if (b.parentHash !== s.headHash)
      throw new LedgerError(
        'bad-parent',
        `parent ${b.parentHash.slice(0, 12)}… is not head ${s.headHash.slice(0, 12)}…`,
      );
    if (b.timestampMs < s.timestampMs)
      throw new LedgerError(
        'bad-timestamp',
        `timestamp ${b.timestampMs} is before the parent's ${s.timestampMs}`,
      );
    // Proof of authority: any key the genesis lists (producersOf), nothing else.
    if (!this.producers.has(b.producer) || !(await verifyBlockSignature(block)))
      throw new LedgerError(
        'bad-producer-signature',
        `block ${b.height} is not signed by a genesis producer`,
      );
    const root = txRoot(block.txs.map((t) => t.hash));
    if (root !== b.txRoot)
      throw new LedgerError(
        'bad-tx-root',
        `tx root ${b.txRoot.slice(0, 12)}… ≠ computed ${root.slice(0, 12)}…`,
      );
    const next = s.clone();
    await replayBlockBody(next, block, this.verifyTxSignatures);
    const stateRoot = next.root();
    if (stateRoot !== b.stateRoot)
      throw new LedgerError(
        'bad-state-root',
        `state root ${b.stateRoot.slice(0, 12)}… ≠ replayed ${stateRoot.slice(0, 12)}…`,
      );
    this.current = next;
    return block;
  }
}

const ChainFileSchema = v.object({ genesis: v.unknown(), blocks: v.array(v.unknown()) });

/**
 * Replays a whole chain from genesis and returns the final state root. Runs
 * in browsers (no Node APIs). Accepts `{ genesis, blocks }` (the format of
 * test/fixtures/chain.json), or an array of blocks plus the genesis.
 */
export async function replayChain(
  chain: unknown,
  genesis?: GenesisConfig,
): Promise<{ stateRoot: string; height: number; headHash: string }> {
  let blocks: unknown[];
  let g: unknown = genesis;
  if (Array.isArray(chain)) blocks = chain;
  else {
    const r = v.safeParse(ChainFileSchema, chain);
    if (!r.success)
      throw new LedgerError('malformed', 'chain must be { genesis, blocks } or an array of blocks');
    blocks = r.output.blocks;
    g ??= r.output.genesis;
  }
  if (g === undefined) throw new LedgerError('malformed', 'replayChain needs a genesis');
  const client = new LightClient(parseGenesis(g));
  for (const b of blocks) await client.apply(b);
  return { stateRoot: client.state.root(), height: client.height, headHash: client.state.headHash };
}

export type { BlockJson };

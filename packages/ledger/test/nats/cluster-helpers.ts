import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Identity } from '@peerbench/protocol';
import {
  type BlockJson,
  createRegisterTx,
  defaultGenesis,
  type GenesisConfig,
  parseBlock,
  parseTx,
  replayChain,
} from '../../src/index.js';
import type { ClusteredLedger } from '../../src/nats/index.js';
import { identities } from '../helpers.js';

/** A genesis naming `count` producer keys (tag 230). */
export async function clusterGenesis(count: number): Promise<{ genesis: GenesisConfig; keys: Identity[] }> {
  const keys = await identities(count, 230);
  const genesis = defaultGenesis(keys[0]!.peerId, {
    chainId: `nats-test-${Math.random().toString(36).slice(2, 8)}`,
    timestampMs: 1_700_000_000_000,
    producers: keys.map((k) => k.peerId),
  });
  return { genesis, keys };
}

/** Signed register txs for `count` fresh keys. */
export async function registerTxs(count: number, chainHash: string, tag = 231): Promise<unknown[]> {
  const keys = await identities(count, tag);
  return Promise.all(keys.map((k) => createRegisterTx(k, chainHash)));
}

/** Every block of an instance's store, in order. */
export async function allBlocks(ledger: ClusteredLedger): Promise<BlockJson[]> {
  const out: BlockJson[] = [];
  for (;;) {
    const page = await ledger.blocksFrom(out.length + 1, 100);
    out.push(...page);
    if (page.length < 100) return out;
  }
}

/** Hashes of every tx in these blocks. */
export function txHashesOf(blocks: BlockJson[]): Set<string> {
  const out = new Set<string>();
  for (const b of blocks) for (const t of b.txs) out.add(parseTx(t).hash);
  return out;
}

/** Re-verifies a whole stored chain from genesis, as a fresh light client. */
export async function verifyFromGenesis(
  ledger: ClusteredLedger,
): Promise<{ height: number; headHash: string }> {
  const r = await replayChain(await allBlocks(ledger), ledger.genesis);
  return { height: r.height, headHash: r.headHash };
}

/**
 * Reads every instance's stored chain once, verifies each from genesis and
 * checks they agree: same block hash at the common height H (production goes
 * on while this runs, so one may be a block or two ahead), and the replayed
 * head of the shortest is that hash. Returns H.
 */
export async function sameVerifiedChain(ledgers: ClusteredLedger[]): Promise<number> {
  const chains = await Promise.all(ledgers.map(allBlocks));
  const H = Math.min(...chains.map((c) => c.length));
  const hashesAtH = new Set(chains.map((c) => parseBlock(c[H - 1]).hash));
  if (hashesAtH.size !== 1) throw new Error(`instances disagree at height ${H}`);
  for (const c of chains) {
    const replayed = await replayChain(c, ledgers[0]!.genesis);
    if (replayed.height !== c.length) throw new Error('replay stopped early');
    if (c.length === H && !hashesAtH.has(replayed.headHash)) throw new Error('replayed head differs');
  }
  return H;
}

/**
 * Heights of every message on the block stream up to its last sequence now,
 * read one by one from the stream leader (no consumer: after a node died a new
 * consumer may be placed on it and time out).
 */
export async function blockStreamHeights(urls: string[], stream: string): Promise<number[]> {
  const nc: NatsConnection = await connect({ servers: urls });
  try {
    const jsm = await jetstreamManager(nc);
    const last = (await jsm.streams.info(stream)).state.last_seq;
    const heights: number[] = [];
    for (let seq = 1; seq <= last; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq });
      if (!m) throw new Error(`block stream has no message ${seq}`);
      heights.push((m.json() as { height: number }).height);
    }
    return heights;
  } finally {
    await nc.close();
  }
}

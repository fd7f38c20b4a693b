import { type Identity, identityFromSecretKey } from '@peerbench/protocol';
import {
  BlockProducer,
  type BlockProducerOptions,
  createRegisterTx,
  createSetWeightsTx,
  defaultGenesis,
  type GenesisConfig,
  genesisHash,
  type LedgerStore,
  MemoryStore,
  type SparseRowJson,
} from '../src/index.js';

/** Deterministic identities: seed = [tag, i, i, …]. */
export async function identities(count: number, tag = 7): Promise<Identity[]> {
  const out: Identity[] = [];
  for (let i = 0; i < count; i++) {
    const seed = new Uint8Array(32).fill(i & 0xff);
    seed[0] = tag;
    seed[1] = (i >> 8) & 0xff;
    out.push(await identityFromSecretKey(seed));
  }
  return out;
}

export async function producerIdentity(): Promise<Identity> {
  return (await identities(1, 250))[0]!;
}

export interface Harness {
  producer: BlockProducer;
  keys: Identity[];
  store: LedgerStore;
  genesis: GenesisConfig;
  /** genesisHash(genesis): what txs for this chain are signed for. */
  genesisHash: string;
}

/** A producer with `peers` registered (one block) on a memory store; the timer is not started. */
export async function harness(
  peers: number,
  options: Omit<Partial<BlockProducerOptions>, 'genesis'> & { genesis?: Partial<GenesisConfig> } = {},
): Promise<Harness> {
  const id = await producerIdentity();
  const genesis = defaultGenesis(id.peerId, { timestampMs: 1_700_000_000_000, ...options.genesis });
  const store = options.store ?? new MemoryStore();
  let clock = genesis.timestampMs;
  const producer = await BlockProducer.open({
    now: () => (clock += 1000),
    ...options,
    store,
    identity: id,
    genesis,
  });
  const keys = await identities(peers);
  for (const k of keys) {
    const r = await producer.submitTx(await createRegisterTx(k, producer.state().genesisHash));
    if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
  }
  if (peers > 0) await producer.produceBlock();
  return { producer, keys, store, genesis, genesisHash: producer.state().genesisHash };
}

/** The genesis a harness without genesis overrides uses. */
export async function defaultTestGenesis(): Promise<GenesisConfig> {
  return defaultGenesis((await producerIdentity()).peerId, { timestampMs: 1_700_000_000_000 });
}

/**
 * A signed set-weights tx. `chain` is the genesis hash it is signed for; by
 * default the chain of a harness without genesis overrides (pass
 * `producer.state().genesisHash` when the harness has overrides).
 */
export async function setWeights(
  key: Identity,
  uid: number,
  nonce: number,
  weights: SparseRowJson,
  chain?: string,
) {
  return createSetWeightsTx(key, uid, nonce, weights, chain ?? genesisHash(await defaultTestGenesis()));
}

export const SCALE = 1_000_000_000;

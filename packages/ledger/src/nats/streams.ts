/**
 * The JetStream resources of one clustered chain. Names carry a tag derived
 * from the genesis hash, so instances started with different genesis files
 * never share a stream.
 *
 *   <P>_TXS     subject <p>.tx     every accepted tx, msgID = tx hash (dedupe), limits retention
 *   <P>_BLOCKS  subject <p>.block  every block (JSON), appended with an expected last sequence
 *   <P>_LEASE   KV bucket, key "producer", TTL = lease TTL: who produces
 *
 * Each block message carries the header Pb-Tx-Floor: every tx with a stream
 * sequence below it is decided (included, or dropped as invalid); a new
 * producer resumes reading the tx stream there.
 */
import { type JetStreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { type GenesisConfig, genesisHash } from '../genesis.js';

export const TX_FLOOR_HEADER = 'Pb-Tx-Floor';
export const LEASE_KEY = 'producer';
/** How long the tx stream remembers a tx hash for dedupe (JetStream's duplicate window). */
export const TX_DUPLICATE_WINDOW_MS = 2 * 60_000;
/** Default age after which txs leave the tx stream (a producer more than this far behind would miss them). */
export const DEFAULT_TX_MAX_AGE_MS = 24 * 3600_000;

export interface ClusterNames {
  /** First 16 hex chars of the genesis hash. */
  readonly tag: string;
  readonly txStream: string;
  readonly txSubject: string;
  readonly blockStream: string;
  readonly blockSubject: string;
  readonly leaseBucket: string;
}

export function clusterNames(genesis: GenesisConfig): ClusterNames {
  const tag = genesisHash(genesis).slice(0, 16);
  const upper = `PB_LEDGER_${tag}`;
  const lower = `pb.ledger.${tag}`;
  return {
    tag,
    txStream: `${upper}_TXS`,
    txSubject: `${lower}.tx`,
    blockStream: `${upper}_BLOCKS`,
    blockSubject: `${lower}.block`,
    leaseBucket: `${upper}_LEASE`,
  };
}

export interface EnsureStreamsOptions {
  /** Copies JetStream keeps of each message: 1 on a single server, 3 on a 3-node cluster. */
  replicas: number;
  leaseTtlMs: number;
  txMaxAgeMs?: number;
}

const nanos = (ms: number) => Math.round(ms * 1e6);

/**
 * Creates the streams and the lease bucket if they do not exist (idempotent:
 * every instance calls it; JetStream answers an identical add with the
 * existing stream) and returns the lease bucket.
 */
export async function ensureLedgerStreams(
  nc: NatsConnection,
  jsm: JetStreamManager,
  names: ClusterNames,
  options: EnsureStreamsOptions,
): Promise<KV> {
  const both = {
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: options.replicas,
    duplicate_window: nanos(TX_DUPLICATE_WINDOW_MS),
  };
  await addOrKeep(jsm, {
    name: names.txStream,
    subjects: [names.txSubject],
    ...both,
    max_age: nanos(options.txMaxAgeMs ?? DEFAULT_TX_MAX_AGE_MS),
  });
  await addOrKeep(jsm, { name: names.blockStream, subjects: [names.blockSubject], ...both });
  const kvm = new Kvm(nc);
  const config = { ttl: options.leaseTtlMs, replicas: options.replicas, history: 1 };
  try {
    return await kvm.create(names.leaseBucket, config);
  } catch (e) {
    // Another instance created it at the same moment: open what is there.
    return kvm.open(names.leaseBucket).catch(() => {
      throw e;
    });
  }
}

async function addOrKeep(
  jsm: JetStreamManager,
  config: Parameters<JetStreamManager['streams']['add']>[0] & { name: string },
): Promise<void> {
  try {
    await jsm.streams.add(config);
  } catch (e) {
    // Another instance created it first with a config that differs in a
    // default the server filled in: the stream exists, which is all we need.
    await jsm.streams.info(config.name).catch(() => {
      throw e;
    });
  }
}

/** ClusteredLedger's options, events, status and defaults (clustered-ledger.ts). */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Identity } from '@peerbench/protocol';
import type { GenesisConfig } from '../genesis.js';
import type { SubmitResult } from '../producer.js';
import type { LedgerStatus } from '../server-hook.js';
import type { LedgerStore } from '../store.js';
import type { InvalidBlockReport } from './follower.js';

/** The ledger's own verdicts, plus `unavailable` when JetStream did not acknowledge storing the tx. */
export type ClusteredSubmitResult = SubmitResult | { ok: false; code: 'unavailable'; message: string };

export const DEFAULT_LEASE_TTL_MS = 3000;
export const DEFAULT_PUBLISH_TIMEOUT_MS = 5000;
/** Submissions of one instance waiting for JetStream's ack; more are refused with mempool-full. */
export const DEFAULT_MAX_IN_FLIGHT_SUBMITS = 4096;

/** How often an instance compares its applied sequence with the block stream (lag, stall watchdog). */
export const FOLLOW_CHECK_MS = 1000;

export type ClusterRole = 'producer' | 'follower' | 'observer';

export interface ClusteredLedgerOptions {
  /** NATS URLs (all nodes of the cluster, so the client fails over), or an open connection (not closed by stop()). */
  servers?: string | string[];
  connection?: NatsConnection;
  genesis: GenesisConfig;
  /** This instance's key: it may produce iff the genesis lists it; otherwise the instance only follows. */
  identity: Identity;
  /** Local block store (default MemoryStore); it must hold this genesis' chain or be empty. */
  store?: LedgerStore;
  /** Name in the lease and in NATS (default: the first 8 hex chars of the key + a random suffix). */
  instanceId?: string;
  blockIntervalMs?: number;
  leaseTtlMs?: number;
  /** JetStream replicas of the streams and the lease bucket: 1 for one server, 3 for a 3-node cluster. */
  replicas?: number;
  maxTxsPerBlock?: number;
  maxInFlightSubmits?: number;
  publishTimeoutMs?: number;
  snapshotEveryBlocks?: number;
  now?: () => number;
  onInvalidBlock?: (report: InvalidBlockReport) => void;
  /** Produce attempts that did not land, lease changes: for logs. */
  onEvent?: (event: ClusterEvent) => void;
}

export type ClusterEvent =
  | { type: 'lease-acquired' }
  | { type: 'lease-lost' }
  | { type: 'produce-error'; message: string }
  /** blockTimeMs: build + sign + JetStream append + own follower applied it. */
  | { type: 'block-produced'; height: number; txCount: number; blockTimeMs: number };

export interface ClusterStatus extends LedgerStatus {
  role: ClusterRole;
  instanceId: string;
  height: number;
  /** Block stream messages not yet applied here (from the last stream info read, about once a second; -1: it failed). */
  lagBlocks: number;
  natsConnected: boolean;
  blocksProduced: number;
}

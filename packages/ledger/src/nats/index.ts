/**
 * `@peerbench/ledger/nats` — the clustered ledger (Node only: it depends on
 * @nats-io/transport-node). See the "Clustered mode" section of the README.
 */
export * from './clustered-ledger.js';
export type { FollowedBlock, InvalidBlockReport } from './follower.js';
export { LEASE_SAFETY_FRACTION, type LeaseHolder, ProducerLease } from './lease.js';
export { DEFAULT_MAX_PENDING_TXS } from './producer-session.js';
export * from './streams.js';

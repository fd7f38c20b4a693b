export type { LedgerHook } from '@peerbench/ledger';
export {
  type AddressBudgetLimits,
  AddressBudgets,
  BUDGET_KINDS,
  type BudgetKind,
  DEFAULT_ADDRESS_BUDGET_LIMITS,
  DEFAULT_MAX_TRACKED_ADDRESSES,
  type Rate,
} from './address-budget.js';
export { ClusteredRooms } from './clustered-rooms.js';
export * from './env.js';
export { clientIp, HttpRoutes } from './http-routes.js';
export {
  LEDGER_CATCH_UP_BUFFER_BYTES,
  LEDGER_PAGE_BLOCKS,
  MAX_INFLIGHT_LEDGER_TXS_PER_CONNECTION,
  MAX_LEDGER_LIVE_BACKLOG_BLOCKS,
} from './ledger-relay.js';
export * from './ledger-status.js';
export * from './metrics.js';
export * from './options.js';
// NatsRoomBridge itself: @peerbench/signaling-server/room-bridge (it loads the NATS client).
export type { NatsRoomBridgeOptions, RoomBridge } from './room-bridge.js';
export * from './server.js';
export { CONTENT_TYPES, StaticFiles } from './static-files.js';
export { TokenBucket } from './token-bucket.js';
export * from './turn-credentials.js';

/**
 * What the server offers the parts that act on its connections (rooms.ts,
 * ledger-relay.ts). The connections themselves, their sockets, strikes and
 * lifecycle stay in server.ts; the parts only send, reject and track work
 * through this.
 */
import type { ServerMessage, SignalingErrorCode } from '@peerbench/protocol';
import type { BudgetKind } from './address-budget.js';
import type { SignalingCounters } from './metrics.js';

export interface ConnectionHost<C> {
  readonly counters: SignalingCounters;
  log(line: string): void;
  /** False once stop() began: late async work must then do nothing. */
  running(): boolean;
  /** Sends one message; false if the socket is gone or was closed as a slow consumer. */
  send(conn: C, msg: ServerMessage): boolean;
  /** Sends an already serialized message (same rules as send). */
  sendText(conn: C, text: string): boolean;
  /** Answers with an `error` message; strike codes count against the connection's budget. */
  reject(conn: C, code: SignalingErrorCode, message: string, requestId?: string): void;
  /** Drops a connection that reads too slowly (no close handshake behind unread data). */
  closeSlowConsumer(conn: C): void;
  /** Work that stop() waits for (within the shutdown grace). */
  track(work: Promise<unknown>): void;
  /**
   * Spends one unit of the connection's address budget (address-budget.ts);
   * false, nothing spent, when the address is over it (the caller answers
   * `rate-limited`).
   */
  spend(conn: C, kind: BudgetKind): boolean;
}

export function errorMessage(
  code: SignalingErrorCode,
  message: string,
): Extract<ServerMessage, { type: 'error' }> {
  return { type: 'error', code, message: message.slice(0, 1024) };
}

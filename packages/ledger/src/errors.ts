/**
 * Stable error codes. Every rejection the ledger makes carries one of these
 * strings so callers (peer, signaling server, HTTP clients) can branch on it
 * without parsing messages. The README lists what each one means.
 */
import { LEDGER_TX_ERROR_CODES, type LedgerTxErrorCode } from '@peerbench/protocol';

/** Tx rejections: defined once in packages/protocol (they cross the signaling wire). */
export const TX_ERROR_CODES = LEDGER_TX_ERROR_CODES;
export type TxErrorCode = LedgerTxErrorCode;
const TX_CODES: ReadonlySet<string> = new Set(TX_ERROR_CODES);
export function isTxErrorCode(code: unknown): code is TxErrorCode {
  return typeof code === 'string' && TX_CODES.has(code);
}

export const BLOCK_ERROR_CODES = [
  'malformed-block',
  'bad-producer-signature',
  'bad-parent',
  'bad-height',
  'bad-timestamp',
  'bad-tx-root',
  'bad-state-root',
  'bad-tx',
] as const;
export type BlockErrorCode = (typeof BLOCK_ERROR_CODES)[number];

/** store-incompatible: a stored block does not verify on open (corrupt, or written by an older ledger format). */
export const STORE_ERROR_CODES = [
  'store-conflict',
  'genesis-mismatch',
  'store-closed',
  'store-incompatible',
] as const;
export type StoreErrorCode = (typeof STORE_ERROR_CODES)[number];

export type LedgerErrorCode = TxErrorCode | BlockErrorCode | StoreErrorCode;

export class LedgerError extends Error {
  override readonly name = 'LedgerError';
  constructor(
    readonly code: LedgerErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isLedgerError(value: unknown): value is LedgerError {
  return value instanceof LedgerError;
}

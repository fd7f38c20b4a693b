/**
 * The codes a ledger tx submission can fail with, on every path: the
 * ledger's own admission checks (the same list in the ledger's
 * `SubmitResult`, HTTP `POST /ledger/tx` and the signaling `ledger-tx-result`),
 * plus the few ways the path to the ledger can fail. packages/ledger's README
 * says what each tx code means.
 */

/** Rejections by the ledger itself: the tx was looked at and refused. */
export const LEDGER_TX_ERROR_CODES = [
  'malformed',
  'wrong-chain',
  'too-large',
  'too-many-entries',
  'bad-weight',
  'not-on-simplex',
  'bad-signature',
  'unknown-uid',
  'replayed-nonce',
  'step-too-large',
  'duplicate-key',
  'registry-full',
  'insufficient-work',
  'registration-cap',
  'mempool-full',
  'too-many-pending',
] as const;
export type LedgerTxErrorCode = (typeof LEDGER_TX_ERROR_CODES)[number];

/** Failures on the way to the ledger: the tx may be fine, try again later. */
export const LEDGER_PATH_ERROR_CODES = [
  /** The server or client limited this sender (too many txs in flight or per second). */
  'rate-limited',
  /** No answer within the client's timeout. */
  'timeout',
  /** No ledger reachable: not connected, not joined, or the server runs none. */
  'unavailable',
  /** The ledger threw instead of answering. */
  'internal',
  /** A code this version does not know (the message carries the original). */
  'rejected',
] as const;
export type LedgerPathErrorCode = (typeof LEDGER_PATH_ERROR_CODES)[number];

export const LEDGER_SUBMIT_ERROR_CODES = [...LEDGER_TX_ERROR_CODES, ...LEDGER_PATH_ERROR_CODES] as const;
/** The `code` of a failed ledger tx submission, wherever it was submitted. */
export type LedgerSubmitErrorCode = (typeof LEDGER_SUBMIT_ERROR_CODES)[number];

export type LedgerSubmitResult = { ok: true } | { ok: false; code: LedgerSubmitErrorCode; message: string };

const SUBMIT_CODES: ReadonlySet<string> = new Set(LEDGER_SUBMIT_ERROR_CODES);

export function isLedgerSubmitErrorCode(code: unknown): code is LedgerSubmitErrorCode {
  return typeof code === 'string' && SUBMIT_CODES.has(code);
}

/**
 * Reads a code that crossed a transport (a worker port, the signaling
 * client's own `not-connected`, a signaling `error` answering the tx) as a
 * submit code: known codes unchanged, the "no ledger here" family as
 * `unavailable`, anything else `rejected`.
 */
export function toLedgerSubmitErrorCode(code: string | undefined): LedgerSubmitErrorCode {
  if (isLedgerSubmitErrorCode(code)) return code;
  if (code === 'not-connected' || code === 'not-joined' || code === 'ledger-unavailable')
    return 'unavailable';
  return 'rejected';
}

/**
 * The codes in the signaling server's HTTP answers (one port serves
 * `/health`, `/metrics`, `/ledger/*` and the web app).
 */

/** `{ error }` of the server's own refusals (outside what the ledger answers). */
export const HTTP_ERROR_CODES = [
  'ledger-unavailable',
  'not-found',
  'bad-request',
  'forbidden',
  /** A mutating request (POST /ledger/tx) from a web origin the server does not allow. */
  'forbidden-origin',
  'internal',
] as const;
export type HttpErrorCode = (typeof HTTP_ERROR_CODES)[number];

/**
 * `{ ok: false, code, message }` of a `/ledger/*` route: a tx's own
 * LedgerSubmitErrorCode (POST /ledger/tx, including `rate-limited` from the
 * server's per-address limiter), or one of these about the request itself.
 */
export const LEDGER_HTTP_ERROR_CODES = [
  'method-not-allowed',
  'not-found',
  'too-large',
  'malformed',
  'internal',
] as const;
export type LedgerHttpErrorCode = (typeof LEDGER_HTTP_ERROR_CODES)[number];

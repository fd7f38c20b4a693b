/**
 * The codes in the signaling server's HTTP answers (one port serves
 * `/health`, `/metrics`, `/ledger/*` and the web app), each with the one
 * HTTP status it is sent with: the status is defined here, not at each
 * place that refuses a request.
 */

/** `{ error }` of the server's own refusals (outside what the ledger answers), and their statuses. */
export const HTTP_ERROR_STATUS = {
  'ledger-unavailable': 503,
  'not-found': 404,
  'bad-request': 400,
  forbidden: 403,
  /** A mutating request (POST /ledger/tx) from a web origin the server does not allow. */
  'forbidden-origin': 403,
  internal: 500,
} as const;
export type HttpErrorCode = keyof typeof HTTP_ERROR_STATUS;
export const HTTP_ERROR_CODES = Object.keys(HTTP_ERROR_STATUS) as readonly HttpErrorCode[];

/**
 * `{ ok: false, code, message }` of a `/ledger/*` route: a tx's own
 * LedgerSubmitErrorCode (POST /ledger/tx, including `rate-limited` from the
 * server's per-address limiter), or one of these about the request itself,
 * with their statuses.
 */
export const LEDGER_HTTP_ERROR_STATUS = {
  'method-not-allowed': 405,
  'not-found': 404,
  'too-large': 413,
  malformed: 400,
  internal: 500,
} as const;
export type LedgerHttpErrorCode = keyof typeof LEDGER_HTTP_ERROR_STATUS;
export const LEDGER_HTTP_ERROR_CODES = Object.keys(
  LEDGER_HTTP_ERROR_STATUS,
) as readonly LedgerHttpErrorCode[];

/**
 * Which web origins may use the server's mutating routes (POST /ledger/tx)
 * and open WebSocket joins. A browser always sends `Origin` on WebSocket
 * upgrades and cross-origin POSTs; without a check, any web page could make
 * its visitors' browsers submit txs and joins (getting around per-address
 * limits, since each visitor has its own address). Reads stay open.
 *
 * The default allows the server's own origin (the app it serves: scheme +
 * the request's Host) and requests without an Origin header (Node peers,
 * curl, the swarm: not a browser, so not a confused deputy). An operator
 * serving the app from elsewhere lists those origins; `*` allows any.
 */

export interface OriginPolicy {
  /** Extra origins allowed besides the server's own, e.g. "https://app.example.org"; "*" = any. */
  allowedOrigins: readonly string[];
}

/** Normalised origin ("scheme://host[:port]", lower case) or null when it is not one. */
export function normaliseOrigin(value: string): string | null {
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    return `${u.protocol}//${u.host}`.toLowerCase();
  } catch {
    return null;
  }
}

/**
 * Whether a request with this Origin header may mutate or join. `host` is
 * the request's Host header (what the browser used to reach us).
 */
export function originAllowed(
  origin: string | undefined,
  host: string | undefined,
  policy: OriginPolicy,
): boolean {
  if (origin === undefined) return true;
  if (policy.allowedOrigins.includes('*')) return true;
  const o = normaliseOrigin(origin);
  if (o === null) return false; // "null" (sandboxed frames, file://) and garbage
  if (host) {
    const h = host.toLowerCase();
    if (o === `http://${h}` || o === `https://${h}`) return true;
  }
  return policy.allowedOrigins.some((allowed) => normaliseOrigin(allowed) === o);
}

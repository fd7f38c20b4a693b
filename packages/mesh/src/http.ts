/**
 * The signaling server also serves HTTP on the same host and port (the
 * ledger's routes, the web app). These find it from the signaling URL.
 */

/** http(s)://host:port of a ws(s):// signaling URL, where the server's HTTP routes live. */
export function httpBaseOf(signalingUrl: string): string {
  const url = new URL(signalingUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  return url.origin;
}

/** Thrown when the server has no ledger or answers something that is not JSON. */
export class GenesisFetchError extends Error {
  readonly code = 'no-ledger';
}

/**
 * GET /ledger/genesis from the signaling server, checked by `parse` (the
 * ledger's `parseGenesis`: this package does not depend on the ledger).
 * Never cached: a restarted server may run a new chain.
 */
export async function fetchGenesis<T>(signalingUrl: string, parse: (json: unknown) => T): Promise<T> {
  const res = await fetch(`${httpBaseOf(signalingUrl)}/ledger/genesis`, { cache: 'no-store' });
  if (!res.ok)
    throw new GenesisFetchError(
      `${httpBaseOf(signalingUrl)} has no ledger (GET /ledger/genesis answered ${res.status})`,
    );
  let json: unknown;
  try {
    json = await res.json();
  } catch (e) {
    throw new GenesisFetchError(`GET /ledger/genesis did not answer JSON: ${(e as Error).message}`);
  }
  return parse(json);
}

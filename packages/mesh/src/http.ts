/**
 * The signaling server also serves HTTP on the same host and port (the
 * ledger's routes, the web app). These find it from the signaling URL.
 */
import { parseServerUrls, type ServerUrls } from './server-urls.js';

/** http(s)://host:port of a ws(s):// signaling URL, where the server's HTTP routes live. */
export function httpBaseOf(signalingUrl: string): string {
  const url = new URL(signalingUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  return url.origin;
}

/** Thrown when no server has a ledger, answers something that is not JSON, or answers in time. */
export class GenesisFetchError extends Error {
  readonly code = 'no-ledger';
}

/** How long one server has to answer GET /ledger/genesis before the next one is asked. */
export const GENESIS_FETCH_TIMEOUT_MS = 5_000;

async function fetchGenesisFrom<T>(
  signalingUrl: string,
  parse: (json: unknown) => T,
  timeoutMs: number,
): Promise<T> {
  const base = httpBaseOf(signalingUrl);
  let res: Response;
  try {
    res = await fetch(`${base}/ledger/genesis`, {
      cache: 'no-store',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    throw new GenesisFetchError(`${base} did not answer GET /ledger/genesis: ${(e as Error).message}`);
  }
  if (!res.ok)
    throw new GenesisFetchError(`${base} has no ledger (GET /ledger/genesis answered ${res.status})`);
  let json: unknown;
  try {
    json = await res.json();
  } catch (e) {
    throw new GenesisFetchError(`${base}: GET /ledger/genesis did not answer JSON: ${(e as Error).message}`);
  }
  return parse(json);
}

/**
 * GET /ledger/genesis from the signaling server, checked by `parse` (the
 * ledger's `parseGenesis`: this package does not depend on the ledger).
 * Never cached: a restarted server may run a new chain.
 *
 * With several servers (one URL, a list or a comma-separated list, as
 * `parseServerUrls` reads them: clustered instances share one genesis) each is
 * asked in turn until one answers a genesis `parse` accepts; a server that is
 * down, slow (`timeoutMs`), without a ledger or answering something `parse`
 * refuses is skipped. When none does, the error names every failure (with
 * one server: that server's error, `parse`'s own included).
 */
export async function fetchGenesis<T>(
  servers: ServerUrls,
  parse: (json: unknown) => T,
  timeoutMs = GENESIS_FETCH_TIMEOUT_MS,
): Promise<T> {
  const failures: unknown[] = [];
  for (const url of parseServerUrls(servers)) {
    try {
      return await fetchGenesisFrom(url, parse, timeoutMs);
    } catch (e) {
      failures.push(e);
    }
  }
  // One server: its own error (parse's included), as before lists were taken.
  if (failures.length === 1) throw failures[0];
  const why = failures.map((e) => (e instanceof Error ? e.message : String(e)));
  throw new GenesisFetchError(`no server gave the genesis: ${why.join('; ')}`);
}

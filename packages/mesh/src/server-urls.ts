/**
 * The signaling servers a client may use: one URL (a single server, or
 * several instances behind a load balancer) or a list of clustered instances
 * that share rooms and the ledger (signaling-server `--nats`). The client
 * connects to the current one; when a connection drops or cannot be opened it
 * moves to the next (round robin), so the peers of an instance that died come
 * back on another one, with the reconnect backoff between attempts.
 */

/** Thrown for an empty list or a URL that is not ws://, wss://, http:// or https://. */
export class ServerUrlError extends Error {
  readonly code = 'bad-server-url';
}

/** One URL, a list, or a comma-separated list; spaces around commas are ignored. */
export type ServerUrls = string | readonly string[];

const SCHEMES = new Set(['ws:', 'wss:', 'http:', 'https:']);

/**
 * The URLs of `urls` as a non-empty list, in order, duplicates removed, http(s)
 * written as ws(s) (the same server: it upgrades on any path); throws ServerUrlError.
 */
export function parseServerUrls(urls: ServerUrls): string[] {
  const items = (typeof urls === 'string' ? [urls] : [...urls])
    .flatMap((u) => u.split(','))
    .map((u) => u.trim())
    .filter((u) => u !== '');
  if (items.length === 0) throw new ServerUrlError('no signaling server URL given');
  for (const u of items) {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw new ServerUrlError(`not a URL: ${u.slice(0, 100)}`);
    }
    if (!SCHEMES.has(parsed.protocol))
      throw new ServerUrlError(`not a ws://, wss://, http:// or https:// URL: ${u.slice(0, 100)}`);
  }
  return [...new Set(items.map((u) => u.replace(/^http(s?):/i, 'ws$1:')))];
}

/** Round robin over a fixed list of server URLs. */
export class ServerUrlRotation {
  readonly urls: readonly string[];
  private index = 0;

  constructor(urls: ServerUrls) {
    this.urls = parseServerUrls(urls);
  }

  /** The URL the next connection attempt uses. */
  get current(): string {
    return this.urls[this.index] as string;
  }

  /** Moves to the next URL (back to the first after the last) and returns it. */
  advance(): string {
    this.index = (this.index + 1) % this.urls.length;
    return this.current;
  }
}

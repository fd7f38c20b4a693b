/**
 * What the signaling server tells the page before it joins (GET /config):
 * the operator's public room, which the bare URL joins, and optionally its
 * D (most links per peer; `?degree=` overrides it). A server that does
 * not answer in time (or an older one without /config) leaves the page on
 * DEFAULT_PUBLIC_ROOM, the server's own default.
 */

/** The page does not wait longer than this for /config before showing itself. */
export const SERVER_CONFIG_TIMEOUT_MS = 2_000;

/** http(s)://host:port of a ws(s):// signaling URL. */
function httpOrigin(signalingUrl: string): string {
  const url = new URL(signalingUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  return url.origin;
}

/** What GET /config said; a field is null when the server did not say it (or said nonsense). */
export interface ServerConfig {
  publicRoom: string | null;
  /** The operator's D (most links per peer), when the server sets one. */
  degree: number | null;
}

/** The server's /config, or nulls when it did not answer (unreachable, slow, no /config, bad answer). */
export async function fetchServerConfig(
  signalingUrl: string,
  timeoutMs = SERVER_CONFIG_TIMEOUT_MS,
): Promise<ServerConfig> {
  try {
    const res = await fetch(`${httpOrigin(signalingUrl)}/config`, {
      cache: 'no-store',
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) return { publicRoom: null, degree: null };
    const body = (await res.json()) as { publicRoom?: unknown; degree?: unknown } | null;
    return {
      publicRoom: typeof body?.publicRoom === 'string' ? body.publicRoom : null,
      // Range-checked by parseLaunchConfig.
      degree: typeof body?.degree === 'number' ? body.degree : null,
    };
  } catch {
    return { publicRoom: null, degree: null };
  }
}

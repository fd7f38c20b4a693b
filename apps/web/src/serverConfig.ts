/**
 * What the signaling server tells the page before it joins (GET /config):
 * the operator's public room, which the bare URL joins. A server that does
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

/** The server's public room, or null when it did not say (unreachable, slow, no /config, bad answer). */
export async function fetchPublicRoom(
  signalingUrl: string,
  timeoutMs = SERVER_CONFIG_TIMEOUT_MS,
): Promise<string | null> {
  try {
    const res = await fetch(`${httpOrigin(signalingUrl)}/config`, {
      cache: 'no-store',
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) return null;
    const body = (await res.json()) as { publicRoom?: unknown };
    return typeof body.publicRoom === 'string' ? body.publicRoom : null;
  } catch {
    return null;
  }
}

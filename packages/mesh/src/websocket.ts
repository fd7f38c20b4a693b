/**
 * The WebSocket the signaling client needs (the browser's and the `ws`
 * package's both fit), and the reconnect backoff shared by the signaling
 * client and the mesh's link retries.
 */

/**
 * An event handler property, checked like a method (bivariantly), so that
 * the browser's and `ws`'s handlers, which take richer event types than the
 * members read here, fit without a cast.
 */
type Handler<E> = { bivarianceHack(ev: E): void }['bivarianceHack'] | null;

/** The WebSocket members used here: the browser's and the `ws` package's both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown>;
  onmessage: Handler<{ data: unknown }>;
  onclose: Handler<{ code: number; reason: string }>;
  onerror: Handler<unknown>;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** `WebSocket.OPEN`. */
export const WS_OPEN = 1;

/** Delay before reconnect attempt `attempt` (0-based): exponential, capped, with "equal jitter". */
export function backoffDelayMs(
  attempt: number,
  initialMs: number,
  maxMs: number,
  random: () => number,
): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + random() * (ceiling / 2);
}

/** The text of a WebSocket message (string, ArrayBuffer or a view). */
export function messageText(raw: unknown): string | Uint8Array {
  if (typeof raw === 'string') return raw;
  if (raw instanceof ArrayBuffer) return new Uint8Array(raw);
  if (ArrayBuffer.isView(raw)) return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  return String(raw);
}

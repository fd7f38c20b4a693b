/**
 * WebSocket close codes the signaling server sends and its clients act on.
 * 1xxx are RFC 6455 codes; 4xxx are ours (the range RFC 6455 leaves to
 * applications). The client reconnects after any of them except `replaced`.
 */
export const CloseCode = {
  /** The server is shutting down (graceful stop). */
  goingAway: 1001,
  /** Too many invalid or rate-limited messages; reconnect only after a long back-off. */
  policyViolation: 1008,
  /** A frame larger than the server's hard payload cap (ws closes before buffering it). */
  messageTooBig: 1009,
  /** Too many connections, or the client read too slowly (slow consumer). */
  tryAgainLater: 1013,
  /** Another connection proved the same identity in the same room; do not reconnect automatically. */
  replaced: 4000,
  /** The connection did not join a room within the server's join timeout. */
  joinTimeout: 4001,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

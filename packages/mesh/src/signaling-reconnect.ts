/**
 * When the signaling client opens its next socket, and to which server: after
 * a drop, an unreachable server or a dead socket (signaling-keepalive.ts) it
 * waits an exponential backoff with jitter and tries the next server of its
 * list (round robin). A welcome resets the backoff.
 */
import type { ServerUrlRotation } from './server-urls.js';
import { backoffDelayMs } from './websocket.js';

/** First reconnect delay; doubles per failed attempt up to RECONNECT_MAX_DELAY_MS. */
export const RECONNECT_INITIAL_DELAY_MS = 250;
export const RECONNECT_MAX_DELAY_MS = 10_000;
/** After a 1008 (policy violation) close, reconnect as if this many attempts had failed already. */
export const POLICY_CLOSE_BACKOFF_ATTEMPT = 5;

export interface ReconnectTimings {
  reconnectInitialDelayMs?: number;
  reconnectMaxDelayMs?: number;
  /** Random source for jitter, injectable for tests. */
  random?: () => number;
}

export class ReconnectSchedule {
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly servers: ServerUrlRotation,
    private readonly timings: ReconnectTimings,
  ) {}

  /** Joined: the next drop starts again from the shortest delay. */
  reset(): void {
    this.attempt = 0;
  }

  /** Closed for abuse: come back slowly, not in a tight loop. */
  slowDown(): void {
    this.attempt = Math.max(this.attempt, POLICY_CLOSE_BACKOFF_ATTEMPT);
  }

  /** Moves to the next server and runs `connect` after this attempt's backoff. */
  schedule(connect: () => void): void {
    this.cancel();
    // This server dropped us or cannot be reached: the next attempt goes to the next one.
    this.servers.advance();
    const delay = backoffDelayMs(
      this.attempt++,
      this.timings.reconnectInitialDelayMs ?? RECONNECT_INITIAL_DELAY_MS,
      this.timings.reconnectMaxDelayMs ?? RECONNECT_MAX_DELAY_MS,
      this.timings.random ?? Math.random,
    );
    this.timer = setTimeout(() => {
      this.timer = undefined;
      connect();
    }, delay);
  }

  cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * Is the signaling socket alive? Browsers cannot see the server's WebSocket
 * ping frames, so the client asks in the protocol itself: `ping {seq}` every
 * intervalMs, and any server message (the `pong`, or anything else) within
 * timeoutMs of a ping proves the socket alive. A new socket must hear the
 * server's first message (its `challenge`) within connectTimeoutMs.
 *
 * Why: measured in packages/netlab, a host cut off for 20 s kept a socket
 * that looked open while TCP backed off its retransmissions, so the offers
 * and answers that re-make its WebRTC links crossed only at TCP's next
 * retransmission, up to the outage's length after the network came back.
 * A socket declared dead here is dropped and a new one is opened (its SYN
 * goes out at once), through the client's usual reconnect.
 */
import {
  MAX_SIGNALING_PING_SEQ,
  SIGNALING_CONNECT_TIMEOUT_MS,
  SIGNALING_PING_INTERVAL_MS,
  SIGNALING_PONG_TIMEOUT_MS,
} from '@peerbench/protocol';

export interface KeepaliveTimings {
  /** Between pings on an open socket; default SIGNALING_PING_INTERVAL_MS. */
  pingIntervalMs?: number;
  /** From a ping to the deadline for any server message; default SIGNALING_PONG_TIMEOUT_MS. */
  pongTimeoutMs?: number;
  /** From making a socket to the deadline for its first server message; default SIGNALING_CONNECT_TIMEOUT_MS. */
  connectTimeoutMs?: number;
}

export interface KeepaliveHooks {
  /** Sends `ping {seq}`; false when the socket cannot send now (then no deadline is armed). */
  sendPing(seq: number): boolean;
  /** Called once when the socket is found dead; the keepalive has stopped by then. */
  onDead(reason: string): void;
}

type Timer = ReturnType<typeof setTimeout>;

/** Watches one socket, from its creation to `stop()` (or its death). */
export class SignalingKeepalive {
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly connectTimeoutMs: number;
  private pingTimer: Timer | undefined;
  private deadline: Timer | undefined;
  private seq = 0;
  private stopped = false;

  constructor(
    private readonly hooks: KeepaliveHooks,
    timings: KeepaliveTimings = {},
  ) {
    this.intervalMs = timings.pingIntervalMs ?? SIGNALING_PING_INTERVAL_MS;
    this.timeoutMs = timings.pongTimeoutMs ?? SIGNALING_PONG_TIMEOUT_MS;
    this.connectTimeoutMs = timings.connectTimeoutMs ?? SIGNALING_CONNECT_TIMEOUT_MS;
    for (const [name, ms] of [
      ['pingIntervalMs', this.intervalMs],
      ['pongTimeoutMs', this.timeoutMs],
      ['connectTimeoutMs', this.connectTimeoutMs],
    ] as const) {
      if (!(ms > 0) || !Number.isFinite(ms)) throw new RangeError(`${name} must be a positive number of ms`);
    }
    this.arm(
      this.connectTimeoutMs,
      `no message from the server within ${this.connectTimeoutMs} ms of opening the socket`,
    );
  }

  /** The server said something: the socket is alive; the next ping goes out intervalMs later. */
  heard(): void {
    if (this.stopped) return;
    this.clearDeadline();
    if (this.pingTimer === undefined) {
      const timer = setInterval(() => this.ping(), this.intervalMs);
      (timer as { unref?: () => void }).unref?.();
      this.pingTimer = timer;
    }
  }

  stop(): void {
    this.stopped = true;
    this.clearDeadline();
    if (this.pingTimer !== undefined) clearInterval(this.pingTimer);
    this.pingTimer = undefined;
  }

  private ping(): void {
    // One ping at a time: the deadline of the one in flight decides.
    if (this.stopped || this.deadline !== undefined) return;
    const seq = this.seq;
    this.seq = seq >= MAX_SIGNALING_PING_SEQ ? 0 : seq + 1;
    if (!this.hooks.sendPing(seq)) return;
    this.arm(this.timeoutMs, `no answer from the server within ${this.timeoutMs} ms of a ping`);
  }

  private arm(ms: number, reason: string): void {
    this.clearDeadline();
    const timer = setTimeout(() => {
      // Confirmed one turn later: after an event loop stalled past the deadline (a long
      // synchronous step), timers run before pending socket reads, and the answer may be
      // waiting in those. heard() in between clears this second timer too.
      const confirm = setTimeout(() => {
        this.deadline = undefined;
        if (this.stopped) return;
        this.stop();
        this.hooks.onDead(reason);
      }, 0);
      (confirm as { unref?: () => void }).unref?.();
      this.deadline = confirm;
    }, ms);
    // The socket keeps a Node process alive while it is open; the keepalive need not.
    (timer as { unref?: () => void }).unref?.();
    this.deadline = timer;
  }

  private clearDeadline(): void {
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    this.deadline = undefined;
  }
}

/**
 * A TURN server answering 401 means the credentials from the welcome expired
 * (or the server's secret changed): the peer asks the signaling server for
 * fresh ones (`ice-refresh`, answered by `ice-servers`) instead of waiting
 * ~15 s for ICE to fail, and the mesh retries its unconnected links with them.
 * At most one request per TURN_REFRESH_MIN_INTERVAL_MS: every ICE server URL
 * of every link reports its own 401, and a server that keeps refusing fresh
 * credentials must not turn into a request loop.
 */
import type { IceServer } from '@peerbench/protocol';
import type { SignalingClient } from './signaling-client.js';

export const TURN_REFRESH_MIN_INTERVAL_MS = 10_000;

export class TurnCredentialRefresher {
  private lastRequestAtMs = Number.NEGATIVE_INFINITY;
  /** Requests sent to the server (for tests and dashboards). */
  requests = 0;
  private readonly off: () => void;

  constructor(
    private readonly signaling: Pick<SignalingClient, 'on' | 'refreshIceServers'>,
    onFresh: (iceServers: IceServer[]) => void,
    private readonly minIntervalMs = TURN_REFRESH_MIN_INTERVAL_MS,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.off = signaling.on('ice-servers', onFresh);
  }

  /** A link saw a TURN 401: asks for new credentials unless it asked within the interval. */
  refused(): void {
    const t = this.now();
    if (t - this.lastRequestAtMs < this.minIntervalMs) return;
    if (!this.signaling.refreshIceServers()) return; // not connected: the next welcome brings fresh ones
    this.lastRequestAtMs = t;
    this.requests++;
  }

  stop(): void {
    this.off();
  }
}

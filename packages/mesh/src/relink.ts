/**
 * Re-establishing a lost link to a peer that is still in the room
 * (peer-mesh.ts): the offerer (the lower id) offers again after an
 * exponential backoff with jitter; the answerer asks the offerer for a new
 * offer, again every connect deadline until one comes. After the signaling
 * client rejoins, links still being made start over at once
 * (`restartStalledLink`).
 */
import type { PeerEntry } from './peer-entry.js';
import { LINK_RETRY_INITIAL_DELAY_MS, LINK_RETRY_MAX_DELAY_MS } from './peer-mesh-options.js';
import type { SignalingClient } from './signaling-client.js';
import { backoffDelayMs } from './websocket.js';

/** The offerer's side: `reoffer` runs once the backoff of `e`'s next attempt has passed. */
export function scheduleReoffer(e: PeerEntry, reoffer: () => void): void {
  const delay = backoffDelayMs(
    e.attempts++,
    LINK_RETRY_INITIAL_DELAY_MS,
    LINK_RETRY_MAX_DELAY_MS,
    Math.random,
  );
  e.retryTimer = setTimeout(() => {
    e.retryTimer = undefined;
    reoffer();
  }, delay);
}

/**
 * The answering side lost its link to a member. The offerer may not have
 * noticed (measured in netlab: after a 20 s outage one side's ICE failed
 * and the other's never did, so nobody re-offered), so ask it for a new
 * offer (simple-peer's `renegotiate` signal), again every `intervalMs`
 * while `stillWanted()`.
 */
export function askForOffer(
  signaling: SignalingClient,
  peerId: string,
  e: PeerEntry,
  intervalMs: number,
  stillWanted: () => boolean,
): void {
  signaling.sendSignal(peerId, { type: 'renegotiate', renegotiate: true });
  e.retryTimer = setTimeout(() => {
    e.retryTimer = undefined;
    if (stillWanted()) askForOffer(signaling, peerId, e, intervalMs, stillWanted);
  }, intervalMs);
}

/**
 * The signaling client rejoined after a reconnect (a welcome on a new
 * socket). The signals this side sent meanwhile went to a dead socket, so a
 * link to `e`'s peer that is still being made will never connect (it would
 * wait out its connect deadline), and a retry may be waiting out a backoff
 * that grew during the outage. Measured in netlab: after a 20 s outage the
 * re-offers must follow the rejoin within a second, not 15 s. So: forget
 * the half-made connection, its timers and its attempts; the caller then
 * re-links as after a failure (the offerer offers after the first backoff
 * step, the answerer asks for an offer at once). An open link is left be.
 * Returns whether anything was reset.
 */
export function restartStalledLink(e: PeerEntry | undefined): e is PeerEntry {
  if (!e || e.session) return false;
  if (!e.connection && !e.retryTimer) return false;
  if (e.retryTimer) clearTimeout(e.retryTimer);
  if (e.connectTimer) clearTimeout(e.connectTimer);
  e.retryTimer = undefined;
  e.connectTimer = undefined;
  e.attempts = 0;
  const conn = e.connection;
  // Detached first: its close must not run the mesh's own failure path too.
  e.connection = undefined;
  conn?.destroy('signaling rejoined: starting this link over');
  return true;
}

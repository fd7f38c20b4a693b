/**
 * Re-establishing a lost link to a peer that is still in the room
 * (peer-mesh.ts): the offerer (the lower id) offers again after an
 * exponential backoff with jitter; the answerer asks the offerer for a new
 * offer, again every connect deadline until one comes.
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

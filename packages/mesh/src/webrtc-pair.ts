/**
 * Two WebRTC links in one process, their signals handed across directly (no
 * signaling server). Used by the compliance tests and the benchmark so that
 * the very same RTCDataChannel pair carries raw and RPC traffic.
 */
import type { Link } from './link.js';
import { WebRtcConnection } from './webrtc-link.js';

export interface WebRtcLinkPair {
  /** a's end (its remote is bPeerId). */
  a: Link;
  b: Link;
  close(): void;
}

export function createWebRtcLinkPair(
  aPeerId: string,
  bPeerId: string,
  opts: { wrtc?: unknown; timeoutMs?: number } = {},
): Promise<WebRtcLinkPair> {
  return new Promise((resolve, reject) => {
    let aLink: Link | undefined;
    let bLink: Link | undefined;
    let settled = false;
    const fail = (reason: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      a.destroy(reason);
      b.destroy(reason);
      reject(new Error(`WebRTC pair failed: ${reason}`));
    };
    const maybeDone = () => {
      if (settled || !aLink || !bLink) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        a: aLink,
        b: bLink,
        close: () => {
          a.destroy('pair closed');
          b.destroy('pair closed');
        },
      });
    };
    /** One end: its signals go straight to the other end (`other`, made after it). */
    const end = (
      remotePeerId: string,
      initiator: boolean,
      other: () => WebRtcConnection,
      onLink: (link: Link) => void,
    ) =>
      new WebRtcConnection({
        remotePeerId,
        initiator,
        wrtc: opts.wrtc,
        onSignal: (data) => other().signal(data),
        onConnect: (link) => {
          onLink(link);
          maybeDone();
        },
        onClose: (reason) => fail(reason),
      });
    const a: WebRtcConnection = end(
      bPeerId,
      true,
      () => b,
      (link) => {
        aLink = link;
      },
    );
    const b: WebRtcConnection = end(
      aPeerId,
      false,
      () => a,
      (link) => {
        bLink = link;
      },
    );
    const timer = setTimeout(() => fail('timed out connecting'), opts.timeoutMs ?? 15_000);
  });
}

/**
 * The dashboard's view of this peer's WebRTC links (from the mesh the page
 * holds: `network.mesh.links()`): per remote peer, whether the link is up and
 * how its data travels, in words a volunteer can act on. Pure (no DOM).
 */
import type { ConnectionType, LinkInfo } from '@peerbench/mesh';

export interface LinkView {
  state: 'connecting' | 'connected' | 'failed';
  type: ConnectionType | null;
  /** Why the last attempt ended (failed, or connecting again after a failure). */
  reason: string | null;
}

/** The links by remote peer id (closed entries left out). */
export function linkViews(links: readonly LinkInfo[]): Record<string, LinkView> {
  const out: Record<string, LinkView> = {};
  for (const l of links) {
    if (l.state === 'closed') continue;
    out[l.peerId] = { state: l.state, type: l.type, reason: l.reason };
  }
  return out;
}

export type LinkKind = 'direct' | 'relay' | 'connecting' | 'failed' | 'none';

const TYPE_TEXT: Record<ConnectionType, { text: string; title: string }> = {
  'direct-host': {
    text: 'direct',
    title: "Direct, between the two devices' own addresses (no NAT in between).",
  },
  'direct-srflx': {
    text: 'direct (NAT)',
    title: "Direct through the routers' NAT: the public address learned from the STUN server.",
  },
  'direct-prflx': {
    text: 'direct (NAT)',
    title: "Direct through the routers' NAT: an address learned from the connection checks.",
  },
  relay: {
    text: 'relayed (TURN)',
    title:
      'Through the TURN relay: the two networks cannot reach each other directly. Works, with more latency.',
  },
};

/** What the Link column shows for one peer. */
export function linkLabel(view: LinkView | undefined): { text: string; title: string; kind: LinkKind } {
  if (!view) return { text: '—', title: 'No WebRTC link to this peer.', kind: 'none' };
  if (view.state === 'failed')
    return {
      text: 'failed',
      title: `Could not connect: ${view.reason ?? 'unknown reason'}. Retrying by itself.`,
      kind: 'failed',
    };
  if (view.state === 'connecting') {
    const after = view.reason ? ` (the last attempt ended: ${view.reason})` : '';
    return { text: 'connecting…', title: `Setting up the WebRTC link${after}.`, kind: 'connecting' };
  }
  if (!view.type)
    return { text: 'connected', title: 'Connected; the path type is not known yet.', kind: 'direct' };
  const t = TYPE_TEXT[view.type];
  return { ...t, kind: view.type === 'relay' ? 'relay' : 'direct' };
}

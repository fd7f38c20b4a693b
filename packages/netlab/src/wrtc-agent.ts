/**
 * One RTCPeerConnection (@roamhq/wrtc) with one data channel, run inside a
 * lab namespace (`ip netns exec … node --import tsx wrtc-agent.ts`) and
 * driven over Node IPC by WrtcPeer (src/wrtc-peer.ts). It has no signaling of
 * its own: descriptions and candidates go to the parent, which hands them to
 * the other agent. Timestamps are this process's performance.now().
 */

import { selectedPairFromStats } from '@peerbench/mesh';
import wrtc from '@roamhq/wrtc';
import { exitSoon, serveParent } from './agent-child.js';
import type { AgentSignal, FromAgent, ToAgent } from './agent-protocol.js';

const send = (msg: FromAgent): void => {
  process.send?.(msg);
};
const now = () => Math.round(performance.now());
let pc: RTCPeerConnection | null = null;
let channel: RTCDataChannel | null = null;
let echo = false;

function wireChannel(ch: RTCDataChannel): void {
  channel = ch;
  ch.onopen = () => send({ type: 'channel-open', atMs: now() });
  ch.onclose = () => send({ type: 'channel-close', atMs: now() });
  ch.onmessage = (e: MessageEvent) => {
    if (echo) ch.send(String(e.data));
    else send({ type: 'message', text: String(e.data), atMs: now() });
  };
}

async function open(msg: Extract<ToAgent, { type: 'open' }>): Promise<void> {
  echo = msg.echo ?? false;
  if (msg.connectTimeoutMs !== undefined) {
    setTimeout(() => {
      if (pc && pc.connectionState !== 'connected') send({ type: 'connect-timeout', atMs: now() });
    }, msg.connectTimeoutMs);
  }
  const conn = new wrtc.RTCPeerConnection(msg.config) as RTCPeerConnection;
  pc = conn;
  conn.onicecandidate = (e: RTCPeerConnectionIceEvent) => {
    if (!e.candidate) return;
    const { candidate, sdpMid, sdpMLineIndex } = e.candidate;
    send({ type: 'signal', signal: { kind: 'candidate', candidate: { candidate, sdpMid, sdpMLineIndex } } });
  };
  conn.oniceconnectionstatechange = () =>
    send({ type: 'ice-state', state: conn.iceConnectionState, atMs: now() });
  conn.onconnectionstatechange = () =>
    send({ type: 'connection-state', state: conn.connectionState, atMs: now() });
  conn.addEventListener('icecandidateerror', (e: RTCPeerConnectionIceErrorEvent) =>
    send({
      type: 'candidate-error',
      errorCode: e.errorCode,
      errorText: e.errorText,
      url: e.url,
      atMs: now(),
    }),
  );
  conn.ondatachannel = (e: RTCDataChannelEvent) => wireChannel(e.channel);
  if (msg.initiator) {
    wireChannel(conn.createDataChannel('lab'));
    await describeLocal(conn, 'offer', conn.createOffer());
  }
}

/** Sets our new offer or answer as the local description and sends it to the other agent. */
async function describeLocal(
  conn: RTCPeerConnection,
  type: 'offer' | 'answer',
  made: Promise<RTCSessionDescriptionInit>,
): Promise<void> {
  const description = await made;
  await conn.setLocalDescription(description);
  send({
    type: 'signal',
    signal: { kind: 'description', description: { type, sdp: description.sdp ?? '' } },
  });
}

async function onSignal(signal: AgentSignal): Promise<void> {
  if (!pc) return;
  if (signal.kind === 'candidate') {
    await pc.addIceCandidate(signal.candidate);
    return;
  }
  await pc.setRemoteDescription(signal.description);
  if (signal.description.type === 'offer') await describeLocal(pc, 'answer', pc.createAnswer());
}

async function handle(msg: ToAgent): Promise<void> {
  switch (msg.type) {
    case 'open':
      return open(msg);
    case 'signal':
      return onSignal(msg.signal);
    case 'send':
      if (channel?.readyState === 'open') channel.send(msg.text);
      return;
    case 'restart-ice': {
      if (!pc) return;
      await describeLocal(pc, 'offer', pc.createOffer({ iceRestart: true }));
      return;
    }
    case 'stats': {
      const report = pc ? await pc.getStats() : new Map();
      send({ type: 'stats', requestId: msg.requestId, selected: selectedPairFromStats(report) });
      return;
    }
    case 'close':
      channel?.close();
      pc?.close();
      pc = null;
      // Let the close reach the network (and coturn) before exiting.
      exitSoon(50);
      return;
  }
}

// One message at a time, in order: a candidate handled while the answer before it is still
// being applied would fail ("no remote description") and be lost, and with symmetric NATs
// on both sides nothing else (no peer-reflexive candidate) would make up for it.
serveParent(handle, { inOrder: true });

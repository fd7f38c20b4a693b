/**
 * A mesh peer in its own process, for the "peer killed mid-request" test:
 * the parent SIGKILLs it while its handler is running. Prints its peer id
 * once joined, and "started <method>" when a handler begins.
 * Usage: node --import tsx mesh-peer-child.ts <signalingUrl> <room>
 */

import { generateIdentity } from '@peerbench/protocol';
import wrtc from '@roamhq/wrtc';
import WebSocket from 'ws';
import { PeerMesh } from '../src/index.js';

const [url, room] = process.argv.slice(2);
if (!url || !room) throw new Error('usage: mesh-peer-child <url> <room>');
const identity = await generateIdentity();
const mesh = new PeerMesh({
  signalingUrl: url,
  room,
  identity,
  wrtc,
  WebSocket: WebSocket,
});
mesh.handle('hang', () => {
  process.stdout.write('started hang\n');
  return new Promise(() => {});
});
mesh.handle('echo', async (_ctx, t) => t);
mesh.on('peer-connected', (id) => process.stdout.write(`connected ${id}\n`));
await mesh.start();
process.stdout.write(`joined ${mesh.peerId}\n`);

/**
 * A PeerMesh in a child process (mesh-peer-child.ts), linked over real
 * WebRTC to a mesh of the test: for tests that kill or freeze the far end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, vi } from 'vitest';
import type { PeerMesh } from '../src/index.js';

const WAIT = { timeout: 20_000, interval: 20 };

export interface ChildPeer {
  readonly child: ChildProcess;
  readonly peerId: string;
  /** Everything it printed so far ("started <method>" when a handler begins). */
  output(): string;
}

/** Starts the child in `room`; resolves once `linkedTo` has an open link to it (the child is killed if not). */
export async function startChildPeer(
  serverUrl: string,
  room: string,
  linkedTo: PeerMesh,
): Promise<ChildPeer> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./mesh-peer-child.ts', import.meta.url)), serverUrl, room],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  try {
    await vi.waitFor(() => expect(/joined ([0-9a-f]{64})/.test(out), 'child joined').toBe(true), WAIT);
    const peerId = /joined ([0-9a-f]{64})/.exec(out)![1]!;
    await vi.waitFor(() => expect(linkedTo.connectedPeers(), 'link to child').toContain(peerId), WAIT);
    return { child, peerId, output: () => out };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}

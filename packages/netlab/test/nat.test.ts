/**
 * Real WebRTC (@roamhq/wrtc) between hosts in separate network namespaces,
 * behind the two NAT modes, with coturn on the public segment: what the raw
 * stack does on its own (no mesh: wrtc's own failure, the 401 as an
 * `icecandidateerror`). Link types are read as the mesh reads them
 * (`connectionTypeOf` of the selected pair, the function behind
 * `LinkInfo.type`); what the mesh itself reports is mesh-nat.test.ts. Needs
 * root, `ip netns`, nftables and coturn (CI has them: scripts/setup.sh).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connectionTypeOf, isTurnAuthError } from '@peerbench/mesh';
import { issueTurnCredential } from '@peerbench/signaling-server';
import { describe, expect, it } from 'vitest';
import type { AgentConfig } from '../src/agent-protocol.js';
import {
  buildNatTopology,
  type FromAgent,
  Lab,
  labUnavailableReason,
  pipeSignals,
  sweepLeftovers,
  WrtcPeer,
} from '../src/index.js';
import { useNatLab } from './fixtures/nat-lab.js';

const unavailable = labUnavailableReason();
if (unavailable) console.warn(`netlab NAT tests skipped: ${unavailable}`);

const SECRET = 'netlab-test-secret-0123456789';
/** A link that is not connected after this reports so (PeerMesh's LINK_CONNECT_DEADLINE_MS: mesh-nat.test.ts). */
const CONNECT_DEADLINE_MS = 15_000;
/** Bound on waiting for that clear state: the deadline plus room for a loaded machine. */
const CLEAR_STATE_WAIT_MS = 25_000;
const CONNECT_WAIT_MS = 20_000;
const CREDENTIAL_ERROR_WAIT_MS = 10_000;

const isState = (kind: 'ice-state' | 'connection-state', state: string) => (m: FromAgent) =>
  m.type === kind && m.state === state;

describe.skipIf(unavailable !== null)('WebRTC across NATs (network namespaces)', () => {
  const nat = useNatLab(
    [
      { nat: 'endpoint-independent' },
      { nat: 'endpoint-independent' },
      { nat: 'symmetric' },
      { nat: 'symmetric' },
    ],
    SECRET,
  );

  /** Two raw wrtc agents in homes homeA and homeB; closed (before coturn stops) in teardown. */
  async function agents(homeA: number, homeB: number): Promise<[WrtcPeer, WrtcPeer]> {
    const [a, b] = await Promise.all([
      WrtcPeer.start(nat.topo.homes[homeA]!.host),
      WrtcPeer.start(nat.topo.homes[homeB]!.host),
    ]);
    for (const p of [a, b]) nat.onTeardown(() => p.close());
    pipeSignals(a, b);
    return [a, b];
  }

  async function pair(
    homeA: number,
    homeB: number,
    config: AgentConfig,
    connectTimeoutMs?: number,
  ): Promise<[WrtcPeer, WrtcPeer]> {
    const [a, b] = await agents(homeA, homeB);
    b.open(config, false, false, connectTimeoutMs);
    a.open(config, true, false, connectTimeoutMs);
    return [a, b];
  }

  const turnServer = (cred: { username: string; credential: string }) => ({
    urls: nat.coturn.turnUrl,
    username: cred.username,
    credential: cred.credential,
  });

  it.concurrent("endpoint-independent NAT with STUN: connected directly, to the other router's public address", async () => {
    const [a, b] = await pair(0, 1, { iceServers: [{ urls: nat.coturn.stunUrl }] });
    await Promise.all([a, b].map((p) => p.waitFor((m) => m.type === 'channel-open', CONNECT_WAIT_MS)));
    const [pa, pb] = await Promise.all([a.selectedPair(), b.selectedPair()]);
    // Classified as the mesh classifies its links (LinkInfo.type): a direct path through the NATs' mappings.
    expect(['direct-srflx', 'direct-prflx']).toContain(pa && connectionTypeOf(pa));
    expect(['direct-srflx', 'direct-prflx']).toContain(pb && connectionTypeOf(pb));
    // Host addresses are private and in other namespaces: the pair must be the NAT's public mapping.
    expect(pa?.remote.address).toBe(nat.topo.homes[1]!.wanIp);
    expect(pb?.remote.address).toBe(nat.topo.homes[0]!.wanIp);
    b.send('across two NATs');
    await a.waitFor((m) => m.type === 'message' && m.text === 'across two NATs', CONNECT_WAIT_MS);
    expect([...a.errors(), ...b.errors()]).toEqual([]);
    console.info(`EIM direct pair: ${pa?.local.candidateType}<->${pa?.remote.candidateType}`);
  });

  it.concurrent('symmetric NAT without TURN: never connects, and each side ends in a clear state within 20 s', async () => {
    // wrtc's own ICE failure is not enough: it came after ~19.5 s on both sides in some runs, and
    // in others one side sat in "new"/"checking" for 40 s+ (its STUN checks timing out one by
    // one). A link deadline (what the mesh must add) gives both sides a clear state in time.
    const [a, b] = await pair(2, 3, { iceServers: [{ urls: nat.coturn.stunUrl }] }, CONNECT_DEADLINE_MS);
    const started = performance.now();
    const ended = (m: FromAgent) => isState('connection-state', 'failed')(m) || m.type === 'connect-timeout';
    const outcomes = await Promise.all([a, b].map((p) => p.waitFor(ended, CLEAR_STATE_WAIT_MS)));
    const elapsedS = (performance.now() - started) / 1000;
    for (const p of [a, b]) {
      expect(
        p.events.some((m) => m.type === 'ice-state' && ['connected', 'completed'].includes(m.state)),
      ).toBe(false);
      expect(p.events.some((m) => m.type === 'channel-open')).toBe(false);
      expect(await p.selectedPair()).toBeNull();
      expect(p.errors()).toEqual([]);
    }
    const how = outcomes.map((m) => (m.type === 'connect-timeout' ? 'deadline' : 'ICE failed')).join(' / ');
    console.info(`symmetric NAT, STUN only: ${how} after ${elapsedS.toFixed(1)} s (machine loaded)`);
  });

  it.concurrent('symmetric NAT with TURN (REST credentials): connected via the relay, messages both ways', async () => {
    const cred = (name: string) => issueTurnCredential(SECRET, name, 600);
    const [a, b] = await agents(2, 3);
    b.open({ iceServers: [{ urls: nat.coturn.stunUrl }, turnServer(cred('peer-b'))] }, false);
    a.open({ iceServers: [{ urls: nat.coturn.stunUrl }, turnServer(cred('peer-a'))] }, true);
    await Promise.all([a, b].map((p) => p.waitFor((m) => m.type === 'channel-open', CONNECT_WAIT_MS)));
    const [pa, pb] = await Promise.all([a.selectedPair(), b.selectedPair()]);
    expect(pa && connectionTypeOf(pa)).toBe('relay');
    expect(pb && connectionTypeOf(pb)).toBe('relay');
    a.send('forward');
    b.send('backward');
    await b.waitFor((m) => m.type === 'message' && m.text === 'forward', CONNECT_WAIT_MS);
    await a.waitFor((m) => m.type === 'message' && m.text === 'backward', CONNECT_WAIT_MS);
    expect([...a.errors(), ...b.errors()]).toEqual([]);
    console.info(`symmetric via TURN: ${pa?.local.candidateType}<->${pa?.remote.candidateType}`);
  });

  for (const [label, forge] of [
    [
      'forged',
      () => ({ username: `${Math.floor(Date.now() / 1000) + 600}:mallory`, credential: 'bm90LXRoZS1obWFj' }),
    ],
    ['expired', () => issueTurnCredential(SECRET, 'late', 60, Date.now() - 3_600_000)],
    ['signed with another secret', () => issueTurnCredential('some-other-secret-0123456789', 'eve', 600)],
  ] as const) {
    it.concurrent(`${label} TURN credentials: coturn refuses them and the peer sees 401 at once`, async () => {
      const peer = await WrtcPeer.start(nat.topo.homes[2]!.host);
      nat.onTeardown(() => peer.close());
      const started = performance.now();
      // Policy relay: without the 401 the peer would sit in "new" (issue 18's facts).
      peer.open({ iceServers: [turnServer(forge())], iceTransportPolicy: 'relay' }, true);
      const err = await peer.waitFor((m) => m.type === 'candidate-error', CREDENTIAL_ERROR_WAIT_MS);
      expect(err).toMatchObject({ type: 'candidate-error', errorCode: 401 });
      expect(err.type === 'candidate-error' && isTurnAuthError(err)).toBe(true);
      expect(peer.events.some((m) => m.type === 'channel-open')).toBe(false);
      console.info(`${label} credentials: 401 after ${Math.round(performance.now() - started)} ms`);
    });
  }
});

const LEAKY_LAB = fileURLToPath(new URL('./fixtures/leaky-lab.ts', import.meta.url));

describe.skipIf(unavailable !== null)('cleanup', () => {
  async function leakyLab(): Promise<{ proc: ChildProcess; runId: string }> {
    const proc = spawn(process.execPath, ['--import', 'tsx', LEAKY_LAB], {
      stdio: ['ignore', 'pipe', 'inherit'],
      cwd: fileURLToPath(new URL('..', import.meta.url)),
    });
    let out = '';
    const runId = await new Promise<string>((resolve, reject) => {
      proc.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const m = out.match(/runId=(\S+)/);
        if (m?.[1]) resolve(m[1]);
      });
      proc.on('exit', () => reject(new Error(`leaky lab exited early: ${out}`)));
    });
    return { proc, runId };
  }

  it('a run killed with SIGKILL leaves namespaces behind; the sweeper of the next run removes them', async () => {
    const { proc, runId } = await leakyLab();
    expect(Lab.existing(runId)).toEqual([`${runId}-leak`]);
    proc.kill('SIGKILL');
    await new Promise((r) => proc.once('exit', r));
    expect(Lab.existing(runId)).toEqual([`${runId}-leak`]);
    expect(sweepLeftovers()).toContain(`${runId}-leak`);
    expect(Lab.existing(runId)).toEqual([]);
  });

  it('a run stopped with SIGTERM removes its own namespaces on the way out', async () => {
    const { proc, runId } = await leakyLab();
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    expect(Lab.existing(runId)).toEqual([]);
  });

  it('destroy() removes every namespace, link and process of the lab', async () => {
    const lab = Lab.create();
    const topo = await buildNatTopology(lab, [{ nat: 'symmetric' }]);
    const sleeper = topo.homes[0]!.host.spawn(['sleep', '600']);
    expect(Lab.existing(lab.runId)).toHaveLength(3);
    await lab.destroy();
    expect(Lab.existing(lab.runId)).toEqual([]);
    expect((await sleeper.exited).signal).not.toBeNull();
  });
});

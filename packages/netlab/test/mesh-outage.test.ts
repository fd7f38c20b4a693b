/**
 * A 20 s outage of one host under a live mesh link: the link fails during
 * it and is re-established by the mesh itself once the host is back.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { LabSignaling, labUnavailableReason, MeshPeer, type MeshPeer as MeshPeerType } from '../src/index.js';
import { NAT_LAB_SETUP_TIMEOUT_MS, useNatLab } from './fixtures/nat-lab.js';

const unavailable = labUnavailableReason();
if (unavailable) console.warn(`netlab mesh outage test skipped: ${unavailable}`);

const OUTAGE_MS = 20_000;
/** issue 18's target: the link carries data again within 15 s of the host coming back. */
const BACK_WITHIN_MS = 15_000;

describe.skipIf(unavailable !== null)('PeerMesh through an outage (network namespaces)', () => {
  const nat = useNatLab(
    [{ nat: 'endpoint-independent' }, { nat: 'endpoint-independent' }],
    'netlab-outage-secret-0123',
  );
  let signaling: LabSignaling | undefined;

  beforeAll(async () => {
    const server = await LabSignaling.start(nat.topo.public, {
      host: nat.topo.publicIp,
      port: 8111,
      turn: nat.turnRest(false),
    });
    signaling = server;
    nat.onTeardown(() => server.stop(), 'server');
  }, NAT_LAB_SETUP_TIMEOUT_MS);

  it('a link that dies in a 20 s outage of one host is back within 15 s after the host returns', async () => {
    const opts = { signalingUrl: signaling!.url, room: 'outage' };
    const [a, b] = await Promise.all([
      MeshPeer.start(nat.topo.homes[0]!.host, opts),
      MeshPeer.start(nat.topo.homes[1]!.host, opts),
    ]);
    for (const m of [a, b]) nat.onTeardown(() => m.stop());
    const up = (l: { state: string; type: string | null }) => l.state === 'connected' && l.type !== null;
    await Promise.all([a.waitForLink(b.peerId, up, 30_000), b.waitForLink(a.peerId, up, 30_000)]);
    expect(await a.ping(b.peerId)).toBeGreaterThan(0);

    const home = nat.topo.homes[1]!;
    const eventsBefore = a.agent.events.length;
    await home.setOutage(true);
    await new Promise((r) => setTimeout(r, OUTAGE_MS)); // the outage is the thing under test: it lasts 20 s
    await home.setOutage(false);
    const backAt = performance.now();
    // The link carries data again: a ping over the data channel answers.
    let rttMs: number | null = null;
    while (rttMs === null && performance.now() - backAt < BACK_WITHIN_MS + 15_000) {
      const seen = a.agent.events.length;
      try {
        rttMs = await a.ping(b.peerId);
      } catch {
        // Not (yet) answered: wait for the mesh to report a new link, or 2 s, then ping again.
        await a.agent
          .waitFor(
            (m) =>
              a.agent.events.indexOf(m) >= seen &&
              m.type === 'link' &&
              m.info.peerId === b.peerId &&
              m.info.state === 'connected',
            2_000,
          )
          .catch(() => undefined);
      }
    }
    const recoveredMs = performance.now() - backAt;
    // What a's mesh reported about the link from the outage on.
    const timeline = a.agent.events
      .slice(eventsBefore)
      .flatMap((m) =>
        m.type === 'link' && m.info.peerId === b.peerId
          ? [
              `${m.info.state}${m.info.type ? ` ${m.info.type}` : ''}${m.info.state === 'failed' ? ` (${m.info.reason})` : ''}`,
            ]
          : [],
      );
    const agentT0 = (m: MeshPeerType) => m.agent.events.find((e) => e.type === 'signaling')?.atMs ?? 0;
    for (const m of [a, b])
      console.info(
        `${m === a ? 'a' : 'b'}: ${m.agent.events
          .filter((e) => e.type === 'link' || e.type === 'signaling')
          .map((e) =>
            e.type === 'link'
              ? `${e.atMs - agentT0(m)} ${e.info.state} ${e.info.reason ?? ''}`
              : e.type === 'signaling'
                ? `${e.atMs - agentT0(m)} sig:${e.state}`
                : '',
          )
          .join(' | ')}`,
      );
    console.info(
      `mesh outage of ${OUTAGE_MS / 1000} s (the host cut off is the ${b.peerId < a.peerId ? 'offering' : 'answering'} side): ping answered ${Math.round(recoveredMs)} ms after the host returned; a's link: ${timeline.join(' → ')}`,
    );

    expect(rttMs).not.toBeNull();
    expect(recoveredMs).toBeLessThan(BACK_WITHIN_MS);
    // The link did die (wrtc declares ICE failed ~16 s into an outage, on one side or both) and a
    // new connection replaced it.
    expect(timeline).toContain('connecting');
    expect(timeline.at(-1)).toMatch(/^connected direct-/);
  }, 120_000);
});

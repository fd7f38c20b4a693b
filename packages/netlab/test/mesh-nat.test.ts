/**
 * The mesh itself across NATs: real PeerMesh agents (@peerbench/mesh, wrtc,
 * ws) in home namespaces, the real signaling server and coturn on the public
 * segment. Everything asserted is what the mesh reports (its `link` events,
 * fresh-credential answers) and what the server counts from the peers'
 * reports, not raw stats. Needs root, `ip netns`, nftables and coturn.
 */
import { LINK_CONNECT_DEADLINE_MS, type LinkInfo } from '@peerbench/mesh';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { LabSignaling, labUnavailableReason, MeshPeer, type SignalingAgentConfig } from '../src/index.js';
import { NAT_LAB_SETUP_TIMEOUT_MS, useNatLab } from './fixtures/nat-lab.js';

const unavailable = labUnavailableReason();
if (unavailable) console.warn(`netlab mesh tests skipped: ${unavailable}`);

const CONNECT_WAIT_MS = 30_000;
/** The mesh's deadline plus room for a loaded machine: the bound on "a clear state". */
const CLEAR_STATE_WAIT_MS = LINK_CONNECT_DEADLINE_MS + 10_000;
const PORTS = { stunOnly: 8101, turn: 8102, expiredFirst: 8103 } as const;

const connected = (info: LinkInfo) => info.state === 'connected' && info.type !== null;
/** Each end's link to the other once it is connected with a known type. */
const bothConnected = (a: MeshPeer, b: MeshPeer) =>
  Promise.all([
    a.waitForLink(b.peerId, connected, CONNECT_WAIT_MS),
    b.waitForLink(a.peerId, connected, CONNECT_WAIT_MS),
  ]);

describe.skipIf(unavailable !== null)('PeerMesh across NATs (network namespaces)', () => {
  const nat = useNatLab(
    [
      { nat: 'endpoint-independent' },
      { nat: 'endpoint-independent' },
      { nat: 'symmetric' },
      { nat: 'symmetric' },
    ],
    'netlab-mesh-secret-0123456789',
  );
  const servers: Partial<Record<keyof typeof PORTS, LabSignaling>> = {};

  beforeAll(async () => {
    const host = nat.topo.publicIp;
    const configs: Record<keyof typeof PORTS, SignalingAgentConfig> = {
      stunOnly: { host, port: PORTS.stunOnly, turn: nat.turnRest(false) },
      turn: { host, port: PORTS.turn, turn: nat.turnRest(true) },
      expiredFirst: { host, port: PORTS.expiredFirst, turn: nat.turnRest(true), expiredFirst: true },
    };
    await Promise.all(
      (Object.keys(configs) as (keyof typeof PORTS)[]).map(async (k) => {
        const server = await LabSignaling.start(nat.topo.public, configs[k]);
        servers[k] = server;
        nat.onTeardown(() => server.stop(), 'server');
      }),
    );
  }, NAT_LAB_SETUP_TIMEOUT_MS);

  async function pair(server: keyof typeof PORTS, homeA: number, homeB: number, room: string) {
    const url = servers[server]!.url;
    const opts = { signalingUrl: url, room, linkReportDebounceMs: 100 };
    const [a, b] = await Promise.all([
      MeshPeer.start(nat.topo.homes[homeA]!.host, opts),
      MeshPeer.start(nat.topo.homes[homeB]!.host, opts),
    ]);
    for (const m of [a, b]) nat.onTeardown(() => m.stop());
    return [a, b] as const;
  }

  it.concurrent('endpoint-independent NAT with STUN: each side reports a direct link through the NATs', async () => {
    const [a, b] = await pair('stunOnly', 0, 1, 'eim');
    const [la, lb] = await bothConnected(a, b);
    for (const l of [la, lb]) {
      // Host candidates are private addresses in other namespaces: the path is the NATs' public mapping.
      expect(['direct-srflx', 'direct-prflx']).toContain(l.type);
      expect(l.pair?.relayed).toBe(false);
    }
    expect(la.pair?.remote.address).toBe(nat.topo.homes[1]!.wanIp);
    expect(await a.ping(b.peerId)).toBeGreaterThan(0);
    expect([...a.errors(), ...b.errors()]).toEqual([]);
    console.info(`mesh EIM: ${la.type} / ${lb.type}`);
  });

  it.concurrent('symmetric NAT without TURN: the mesh closes the link at its deadline and reports failed on both sides', async () => {
    const started = performance.now();
    const [a, b] = await pair('stunOnly', 2, 3, 'sym-no-turn');
    const reason = `not connected within ${LINK_CONNECT_DEADLINE_MS} ms`;
    const [fa, fb] = await Promise.all([
      a.waitForLink(b.peerId, (l) => l.state === 'failed', CLEAR_STATE_WAIT_MS),
      b.waitForLink(a.peerId, (l) => l.state === 'failed', CLEAR_STATE_WAIT_MS),
    ]);
    const elapsedS = (performance.now() - started) / 1000;
    // Either the deadline or wrtc's own ICE failure, whichever came first; never left connecting.
    for (const f of [fa, fb])
      expect(f.reason === reason || /ICE|webrtc error/i.test(f.reason ?? '')).toBe(true);
    for (const [self, other] of [
      [a, b],
      [b, a],
    ] as const)
      expect(self.linkEvents(other.peerId).some((l) => l.state === 'connected')).toBe(false);
    console.info(
      `mesh symmetric without TURN: failed (${fa.reason} / ${fb.reason}) within ${elapsedS.toFixed(1)} s of start`,
    );
  });

  it.concurrent('symmetric NAT with TURN: both sides report a relayed link, RPCs cross it both ways, the server counts it', async () => {
    const [a, b] = await pair('turn', 2, 3, 'sym-turn');
    const [la, lb] = await bothConnected(a, b);
    expect(la.type).toBe('relay');
    expect(lb.type).toBe('relay');
    expect(await a.ping(b.peerId)).toBeGreaterThan(0);
    expect(await b.ping(a.peerId)).toBeGreaterThan(0);
    const server = servers.turn!;
    // The link reports are debounced 100 ms: poll the server's metrics until both ends are counted.
    await vi.waitFor(async () => expect((await server.metrics()).links.connectedByType.relay).toBe(2), {
      timeout: 5_000,
      interval: 100,
    });
    // Valid credentials: no refresh was asked for.
    expect(a.agent.events.some((m) => m.type === 'ice-servers')).toBe(false);
    console.info(
      `mesh symmetric via TURN: ${la.pair?.local.candidateType}<->${la.pair?.remote.candidateType}`,
    );
  });

  it.concurrent('expired TURN credentials in the welcome: the 401 brings fresh ones and the link comes up relayed before the deadline', async () => {
    const [a, b] = await pair('expiredFirst', 2, 3, 'sym-expired');
    const [la, lb] = await bothConnected(a, b);
    expect(la.type).toBe('relay');
    expect(lb.type).toBe('relay');
    // The offering side (lower id) was refused, asked for fresh credentials, and got them.
    const offerer = a.peerId < b.peerId ? a : b;
    const fresh = offerer.agent.events.find((m) => m.type === 'ice-servers');
    expect(fresh?.type === 'ice-servers' && fresh.turnRefreshes).toBeGreaterThanOrEqual(1);
    const expiry = fresh?.type === 'ice-servers' ? Number(fresh.usernames[0]?.split(':')[0]) : 0;
    expect(expiry * 1000).toBeGreaterThan(Date.now());
    const other = offerer === a ? b : a;
    expect(offerer.linkEvents(other.peerId)).toContainEqual(
      expect.objectContaining({
        state: 'failed',
        reason: 'TURN refused the credentials (401): retrying with fresh ones',
      }),
    );
    // Not rescued by the deadline: no attempt ran out of time.
    for (const m of [a, b])
      expect(
        m.linkEvents(m === a ? b.peerId : a.peerId).some((l) => /not connected within/.test(l.reason ?? '')),
      ).toBe(false);
    await expect(a.ping(b.peerId)).resolves.toBeGreaterThan(0);
  });
});

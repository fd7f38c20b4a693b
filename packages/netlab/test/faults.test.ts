/**
 * Faults on the wire between two hosts in namespaces: delay and jitter from
 * the userspace forwarder, loss from nftables, a short outage. Raw wrtc data
 * channel (reliable, ordered) with echoed probes. Only physical lower bounds
 * on times are asserted (load can only add delay).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type FromAgent, labUnavailableReason, pipeSignals, WrtcPeer } from '../src/index.js';
import { useNatLab } from './fixtures/nat-lab.js';

const unavailable = labUnavailableReason();
if (unavailable) console.warn(`netlab fault tests skipped: ${unavailable}`);

const DELAY_PER_PASS_MS = 20;
const JITTER_PER_PASS_MS = 5;
/** Four forwarder passes per round trip (each home's LAN link, both ways). */
const MIN_RTT_MS = 4 * (DELAY_PER_PASS_MS - JITTER_PER_PASS_MS);
const LOSS_PERCENT = 5;
const OUTAGE_MS = 3000;

describe.skipIf(unavailable !== null)('faults on the wire (network namespaces)', () => {
  const shaping = { delayMs: DELAY_PER_PASS_MS, jitterMs: JITTER_PER_PASS_MS };
  // coturn serves as the STUN server only: the homes' private host candidates are unreachable from each other.
  const nat = useNatLab(
    [
      { nat: 'endpoint-independent', shaping: { ...shaping, seed: 1 } },
      { nat: 'endpoint-independent', shaping: { ...shaping, seed: 2 } },
    ],
    'netlab-faults-secret-0123',
  );
  let a: WrtcPeer;
  let b: WrtcPeer;

  beforeAll(async () => {
    [a, b] = await Promise.all([
      WrtcPeer.start(nat.topo.homes[0]!.host),
      WrtcPeer.start(nat.topo.homes[1]!.host),
    ]);
    for (const p of [a, b]) nat.onTeardown(() => p.close());
  });

  /** Sends n probes every intervalMs from a; resolves with each probe's RTT once all are echoed. */
  async function probe(n: number, intervalMs: number, during?: () => Promise<void>): Promise<number[]> {
    const sentAt = new Map<string, number>();
    const rtts: number[] = [];
    let done!: () => void;
    const all = new Promise<void>((r) => {
      done = r;
    });
    const tag = Math.random().toString(36).slice(2, 8);
    const off = a.on((m: FromAgent) => {
      if (m.type !== 'message') return;
      const sent = sentAt.get(m.text);
      if (sent === undefined) return;
      rtts.push(performance.now() - sent);
      sentAt.delete(m.text);
      if (rtts.length === n) done();
    });
    const sending = (async () => {
      for (let i = 0; i < n; i++) {
        const text = `${tag}:${i}`;
        sentAt.set(text, performance.now());
        a.send(text);
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    })();
    await Promise.all([sending, during?.(), all]);
    off();
    return rtts;
  }

  it('connects through two NATs and delays every round trip by at least 4 × (delay − jitter)', async () => {
    pipeSignals(a, b);
    b.open({ iceServers: [{ urls: nat.coturn.stunUrl }] }, false, true);
    a.open({ iceServers: [{ urls: nat.coturn.stunUrl }] }, true);
    await a.waitFor((m) => m.type === 'channel-open', 30_000);
    const rtts = await probe(20, 20);
    expect(rtts).toHaveLength(20);
    expect(Math.min(...rtts)).toBeGreaterThanOrEqual(MIN_RTT_MS);
    console.info(`shaped RTT: min ${Math.min(...rtts).toFixed(0)} max ${Math.max(...rtts).toFixed(0)} ms`);
  });

  it(`with ${LOSS_PERCENT} % UDP loss nftables drops packets and the reliable channel still delivers everything`, async () => {
    await nat.topo.homes[0]!.setLoss(LOSS_PERCENT);
    const rtts = await probe(100, 10);
    expect(rtts).toHaveLength(100);
    expect(await nat.topo.homes[0]!.lossDropped()).toBeGreaterThan(0);
    await nat.topo.homes[0]!.setLoss(0);
    expect(await nat.topo.homes[0]!.lossDropped()).toBe(0);
  });

  it('a short outage (link down, then up) holds messages back and they all arrive after it', async () => {
    const home = nat.topo.homes[1]!;
    const rtts = await probe(40, 100, async () => {
      await new Promise((r) => setTimeout(r, 500));
      await home.setOutage(true);
      await new Promise((r) => setTimeout(r, OUTAGE_MS));
      await home.setOutage(false);
    });
    expect(rtts).toHaveLength(40);
    // A probe sent just after the link went down waited for it to come back.
    expect(Math.max(...rtts)).toBeGreaterThan(OUTAGE_MS / 2);
    expect(a.events.some((m) => m.type === 'connection-state' && m.state === 'failed')).toBe(false);
  });
});

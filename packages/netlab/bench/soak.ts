/**
 * A short network-fault soak with raw wrtc data channels: two hosts in
 * separate namespaces behind endpoint-independent NATs, delay + jitter
 * (userspace forwarder on each home's LAN link), UDP loss on host 1
 * (nftables), and one outage of host 2 (its router's LAN link down).
 * Host 1 sends a numbered probe every interval; host 2 echoes it; we count
 * probes lost and late, the RTT distribution, the ICE state timeline, and
 * how long after the outage the link carried data again. A connection that
 * fails is replaced by a new one (`--recover new`, counted) or restarted in
 * place with an ICE restart (`--recover restart`, same channel).
 *
 *   tsx bench/soak.ts [--duration-s 90] [--outage-at-s 30] [--outage-s 20] [--rtt-ms 80]
 *                     [--jitter-ms 20] [--loss-pct 2] [--interval-ms 50] [--seed 1]
 *                     [--recover new|restart] [--out FILE]
 *
 * Needs root (see the README). RTT includes two Node IPC hops (test process
 * ↔ agent), well under a millisecond each on an idle machine.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { issueTurnCredential } from '@peerbench/signaling-server';
import {
  buildNatTopology,
  type FromAgent,
  Lab,
  labUnavailableReason,
  pipeSignals,
  type SelectedPair,
  startCoturn,
  WrtcPeer,
} from '../src/index.js';

const { values } = parseArgs({
  options: {
    'duration-s': { type: 'string', default: '90' },
    'outage-at-s': { type: 'string', default: '30' },
    'outage-s': { type: 'string', default: '20' },
    'rtt-ms': { type: 'string', default: '80' },
    'jitter-ms': { type: 'string', default: '20' },
    'loss-pct': { type: 'string', default: '2' },
    'interval-ms': { type: 'string', default: '50' },
    seed: { type: 'string', default: '1' },
    recover: { type: 'string', default: 'new' },
    out: { type: 'string', default: `bench-results/nat-soak-${new Date().toISOString().slice(0, 10)}.json` },
  },
});
const num = (k: keyof typeof values) => Number(values[k]);
const durationS = num('duration-s');
const outageAtS = num('outage-at-s');
const outageS = num('outage-s');
const rttMs = num('rtt-ms');
const jitterMs = num('jitter-ms');
const lossPct = num('loss-pct');
const intervalMs = num('interval-ms');
const seed = num('seed');
const recover = values.recover;
if (recover !== 'new' && recover !== 'restart') {
  console.error('soak: --recover must be new or restart');
  process.exit(2);
}
/** A probe answered later than this counts as late. */
const LATE_MS = 1000;
/** How long after the last probe we wait for stragglers. */
const DRAIN_MS = 5000;
const SECRET = 'netlab-soak-secret-0123456789';

const reason = labUnavailableReason();
if (reason) {
  console.error(`soak: ${reason}`);
  process.exit(2);
}

const loadStart = loadavg();
const lab = Lab.create();
const t0 = performance.now();
const at = () => Math.round(performance.now() - t0);
const timeline: { atMs: number; side: string; event: string }[] = [];

try {
  // Four passes through a forwarder per round trip: delay rtt/4 each, jitter ±jitter/4 each,
  // so a round trip is rtt ± jitter at the extremes.
  const shaping = { delayMs: rttMs / 4, jitterMs: jitterMs / 4 };
  const topo = await buildNatTopology(lab, [
    { nat: 'endpoint-independent', shaping: { ...shaping, seed } },
    { nat: 'endpoint-independent', shaping: { ...shaping, seed: seed + 1 } },
  ]);
  const [home1, home2] = topo.homes as [(typeof topo.homes)[0], (typeof topo.homes)[0]];
  await home1.setLoss(lossPct);
  const coturn = await startCoturn(topo.public, { ip: topo.publicIp, secret: SECRET });
  const config = (name: string) => ({
    iceServers: [
      { urls: coturn.stunUrl },
      { urls: coturn.turnUrl, ...issueTurnCredential(SECRET, name, 3600) },
    ],
  });

  const sentAt = new Map<number, number>();
  const sendLog: number[] = []; // send time (ms since t0) of probe seq, at index seq - 1
  const rtts: { seq: number; sentMs: number; rttMs: number }[] = [];
  let connections = 0;
  let restarts = 0;
  let a: WrtcPeer | null = null;
  let b: WrtcPeer | null = null;
  let channelOpen = false;
  const pairs: { atMs: number; pair: SelectedPair | null }[] = [];

  const connect = async (): Promise<void> => {
    connections++;
    const n = connections;
    const [pa, pb] = await Promise.all([WrtcPeer.start(home1.host), WrtcPeer.start(home2.host)]);
    const log = (side: string) => (m: FromAgent) => {
      if (m.type === 'ice-state' || m.type === 'connection-state') {
        timeline.push({ atMs: at(), side: `${side}#${n}`, event: `${m.type} ${m.state}` });
      }
      if (m.type === 'channel-open' || m.type === 'channel-close') {
        timeline.push({ atMs: at(), side: `${side}#${n}`, event: m.type });
      }
    };
    pa.on(log('h1'));
    pb.on(log('h2'));
    pa.on((m) => {
      if (m.type === 'message') {
        const seq = Number(m.text.split(':')[1]);
        const sent = sentAt.get(seq);
        if (sent !== undefined) {
          rtts.push({ seq, sentMs: sent - t0, rttMs: performance.now() - sent });
          sentAt.delete(seq);
        }
      }
      if (m.type === 'connection-state' && m.state === 'failed') {
        if (recover === 'restart') {
          restarts++;
          pa.restartIce();
        } else void replace();
      }
    });
    pipeSignals(pa, pb);
    pb.open(config('soak-b'), false, true);
    pa.open(config('soak-a'), true);
    a = pa;
    b = pb;
    await pa.waitFor((m) => m.type === 'channel-open', 60_000);
    channelOpen = true;
    pairs.push({ atMs: at(), pair: await pa.selectedPair() });
  };
  let replacing = false;
  const replace = async () => {
    if (replacing) return;
    replacing = true;
    channelOpen = false;
    const old = [a, b];
    await Promise.all(old.map((p) => p?.close()));
    await connect();
    replacing = false;
  };

  await connect();
  const startMs = at();
  let seq = 0;
  let outageStartMs = -1;
  let outageEndMs = -1;
  const timer = setInterval(() => {
    if (!channelOpen || !a) return;
    seq++;
    sentAt.set(seq, performance.now());
    sendLog.push(at());
    a.send(`p:${seq}`);
  }, intervalMs);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await sleep(outageAtS * 1000);
  outageStartMs = at();
  timeline.push({ atMs: outageStartMs, side: 'lab', event: 'outage start (h2 link down)' });
  await home2.setOutage(true);
  await sleep(outageS * 1000);
  await home2.setOutage(false);
  outageEndMs = at();
  timeline.push({ atMs: outageEndMs, side: 'lab', event: 'outage end (h2 link up)' });
  await sleep(Math.max(0, (durationS - outageAtS - outageS) * 1000));
  clearInterval(timer);
  await sleep(DRAIN_MS);
  pairs.push({ atMs: at(), pair: a ? await (a as WrtcPeer).selectedPair() : null });

  const sorted = (xs: number[]) => [...xs].sort((x, y) => x - y);
  const pct = (xs: number[], p: number) =>
    xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;
  const outside = sorted(
    rtts
      .filter((r) => r.sentMs < outageStartMs - 5000 || r.sentMs > outageEndMs + 15_000)
      .map((r) => r.rttMs),
  );
  // The link is back when the first answer arrives after the outage ended (probes queued
  // during the outage by SCTP usually come first).
  const answeredAfter = rtts.map((r) => r.sentMs + r.rttMs).filter((ms) => ms > outageEndMs);
  const recoveredAtMs = answeredAfter.length > 0 ? Math.round(Math.min(...answeredAfter)) : null;
  const firstNew = rtts.filter((r) => r.sentMs >= outageEndMs).sort((x, y) => x.sentMs - y.sentMs)[0];
  const result = {
    date: new Date().toISOString(),
    params: {
      durationS,
      outageAtS,
      outageS,
      rttMs,
      jitterMs,
      lossPct,
      intervalMs,
      seed,
      recover,
      lateMs: LATE_MS,
    },
    loadAverage: { start: loadStart, end: loadavg() },
    probes: {
      sent: seq,
      answered: rtts.length,
      lost: sentAt.size,
      late: rtts.filter((r) => r.rttMs > LATE_MS).length,
      sentDuringOutage: sendLog.filter((ms) => ms >= outageStartMs && ms < outageEndMs).length,
      answeredOfSentDuringOutage: rtts.filter((r) => r.sentMs >= outageStartMs && r.sentMs < outageEndMs)
        .length,
    },
    rttMsOutsideOutage: {
      n: outside.length,
      min: outside[0],
      p50: pct(outside, 50),
      p90: pct(outside, 90),
      p99: pct(outside, 99),
      max: outside[outside.length - 1],
    },
    connections,
    iceRestarts: restarts,
    firstConnectMs: startMs,
    outage: { startMs: outageStartMs, endMs: outageEndMs },
    recovery: {
      firstAnswerAfterOutageMs: recoveredAtMs,
      linkBackAfterOutageEndMs: recoveredAtMs === null ? null : recoveredAtMs - outageEndMs,
      firstProbeSentAfterOutageRttMs: firstNew ? Math.round(firstNew.rttMs) : null,
      maxRttOfProbesQueuedDuringOutageMs: Math.round(
        Math.max(
          0,
          ...rtts.filter((r) => r.sentMs >= outageStartMs && r.sentMs < outageEndMs).map((r) => r.rttMs),
        ),
      ),
    },
    selectedPairs: pairs,
    timeline,
  };
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify({ ...result, timeline: undefined, selectedPairs: undefined }, null, 2));
  console.log(`timeline:\n${timeline.map((e) => `  ${e.atMs} ms ${e.side} ${e.event}`).join('\n')}`);
  await Promise.all([a, b].map((p) => (p as WrtcPeer | null)?.close()));
  await coturn.stop();
} finally {
  await lab.destroy();
}

/**
 * The load benchmark's phases (bench/load.ts), run the same way against one
 * server or against several clustered instances:
 *   idle      one pair ping-pongs on an otherwise quiet deployment (with
 *             several instances: one pair on one instance, one across two)
 *   paced     clients send at fixed aggregate rates to random room mates
 *   saturated closed loop: each client sends its next signal as soon as its
 *             previous one arrived, so one per client is always in flight
 * Relay latency = receive time − send time, both from performance.now() in
 * the load generator's one process. Server CPU comes from /proc, summed over
 * the instances.
 */
import { type Client, PhaseLatencies, round, sendSignal, signals } from './load-clients.js';
import { cpuMsOf } from './server-process.js';

/** Between phases, wait (bounded) until every message sent has arrived. */
const SETTLE_TIMEOUT_MS = 15_000;
const IDLE_ROUND_TRIPS = 500;

export interface PhaseSettings {
  /** Aggregate offered rates, one paced phase each. */
  pacedRatesMsgsPerS: readonly number[];
  pacedDurationMs: number;
  saturatedDurationMs: number;
  instances: number;
  /** Server processes, for their CPU time. */
  serverPids: readonly number[];
  log: (line: string) => void;
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function cpuOfAll(pids: readonly number[]) {
  const clocks = pids.map((pid) => cpuMsOf(pid));
  return () => {
    const reads = clocks.map((read) => read());
    return {
      serverCpuMs: reads.reduce((s, r) => s + r.serverCpuMs, 0),
      loadGeneratorCpuMs: reads[0]?.loadGeneratorCpuMs ?? Number.NaN,
    };
  };
}

async function settle(received: () => number, sent: number): Promise<void> {
  const start = performance.now();
  while (received() < sent && performance.now() - start < SETTLE_TIMEOUT_MS) await delay(20);
}

/** Ping-pong between p and q, one signal in flight. */
async function pingPong(p: Client, q: Client, s: PhaseSettings, clients: readonly Client[]) {
  const samples = new PhaseLatencies(s.instances, clients);
  let left = IDLE_ROUND_TRIPS;
  await new Promise<void>((resolve) => {
    signals.on = (to, from, sentAt) => {
      samples.add(to, from, sentAt);
      if (--left <= 0) return resolve();
      sendSignal(to, to === p ? q : p);
    };
    sendSignal(p, q);
  });
  return samples.all.summary();
}

export async function runPhases(clients: readonly Client[], s: PhaseSettings) {
  const mateOf = (c: Client) =>
    clients[c.mates[Math.floor(Math.random() * c.mates.length)] as number] as Client;
  const closedNow = () => clients.filter((c) => c.closed).length;

  // ---- idle: a pair on one instance (and one across two) on a quiet deployment
  const first = clients[0] as Client;
  const sameInstanceMate = clients[first.mates.find((m) => clients[m]?.instance === first.instance) ?? -1];
  const otherInstanceMate = clients[first.mates.find((m) => clients[m]?.instance !== first.instance) ?? -1];
  if (!sameInstanceMate) throw new Error('client 0 has no room mate on its own instance');
  const idle = await pingPong(first, sameInstanceMate, s, clients);
  s.log(`idle: p50 ${idle.p50Ms} ms, p99 ${idle.p99Ms} ms`);
  const idleAcross =
    s.instances > 1 && otherInstanceMate ? await pingPong(first, otherInstanceMate, s, clients) : undefined;
  if (idleAcross) s.log(`idle across instances: p50 ${idleAcross.p50Ms} ms, p99 ${idleAcross.p99Ms} ms`);

  // ---- paced: fixed aggregate rates over all clients
  const paced = [];
  for (const rate of s.pacedRatesMsgsPerS) {
    const samples = new PhaseLatencies(s.instances, clients);
    let sent = 0;
    signals.on = (to, from, sentAt) => samples.add(to, from, sentAt);
    const cpu = cpuOfAll(s.serverPids);
    const start = performance.now();
    let cursor = 0;
    while (performance.now() - start < s.pacedDurationMs) {
      const due = Math.floor(((performance.now() - start) / 1000) * rate);
      while (sent < due) {
        const from = clients[cursor++ % clients.length] as Client;
        sendSignal(from, mateOf(from));
        sent++;
      }
      await delay(10);
    }
    const sendingS = (performance.now() - start) / 1000;
    await settle(() => samples.count, sent);
    const cpuMs = cpu();
    const summary = samples.summary();
    s.log(
      `paced ${rate}/s: p50 ${summary.p50Ms} ms, p99 ${summary.p99Ms} ms, ${samples.count}/${sent} arrived`,
    );
    paced.push({
      offeredMsgsPerS: rate,
      durationMs: s.pacedDurationMs,
      sent,
      received: samples.count,
      achievedMsgsPerS: Math.round(sent / sendingS),
      ...summary,
      serverCpuUsPerMsg: round((cpuMs.serverCpuMs * 1000) / Math.max(1, samples.count)),
      loadGeneratorCpuUsPerMsg: round((cpuMs.loadGeneratorCpuMs * 1000) / Math.max(1, samples.count)),
      clientsClosedSoFar: closedNow(),
    });
  }

  // ---- saturated: closed loop, one message in flight per client
  const samples = new PhaseLatencies(s.instances, clients);
  let sending = true;
  let sent = 0;
  const start = performance.now();
  const cpu = cpuOfAll(s.serverPids);
  signals.on = (to, fromIndex, sentAt) => {
    samples.add(to, fromIndex, sentAt);
    if (!sending) return;
    const from = clients[fromIndex] as Client;
    sendSignal(from, mateOf(from));
    sent++;
  };
  for (const c of clients) {
    sendSignal(c, mateOf(c));
    sent++;
  }
  await delay(s.saturatedDurationMs);
  sending = false;
  const elapsedS = (performance.now() - start) / 1000;
  const receivedAtStop = samples.count;
  const cpuMs = cpu();
  await settle(() => samples.count, sent);
  const summary = samples.summary();
  const rate = receivedAtStop / elapsedS;
  s.log(`saturated: ${rate.toFixed(0)} msgs/s, p50 ${summary.p50Ms} ms, p99 ${summary.p99Ms} ms`);
  signals.on = () => {};
  const saturated = {
    inFlight: clients.length,
    durationMs: s.saturatedDurationMs,
    sent,
    received: samples.count,
    msgsPerS: Math.round(rate),
    ...summary,
    serverCpuUsPerMsg: round((cpuMs.serverCpuMs * 1000) / Math.max(1, receivedAtStop)),
    loadGeneratorCpuUsPerMsg: round((cpuMs.loadGeneratorCpuMs * 1000) / Math.max(1, receivedAtStop)),
    /** What the servers alone could relay if they had one core to themselves. */
    serverBoundMsgsPerSPerCore: Math.round(receivedAtStop / Math.max(1e-9, cpuMs.serverCpuMs / 1000)),
    clientsClosedSoFar: closedNow(),
  };
  return { idle, ...(idleAcross ? { idleAcross } : {}), paced, saturated };
}

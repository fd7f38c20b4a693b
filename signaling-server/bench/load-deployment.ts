/**
 * One deployment under load (bench/load.ts): `instances` server processes
 * (server-child.ts) and, with more than one, a NATS cluster of as many nodes
 * started on free ports by this bench (each instance on its own node, so a
 * signal across instances crosses a NATS route), always stopped at the end.
 * `clientsPerInstance` clients per instance join rooms of `peersPerRoom`; with
 * several instances every room spans all of them (members go round-robin), so
 * signals relay both within one instance and across two.
 */
import { generateIdentity, type Identity } from '@peerbench/protocol';
import { type Client, connectClient, round } from './load-clients.js';
import { type PhaseSettings, runPhases } from './load-phases.js';
import {
  cpuMsOf,
  procStatusKiB,
  type ServerChild,
  serverRssBytes,
  startServerChild,
} from './server-process.js';

const CONNECT_CONCURRENCY = 100;
const RSS_SAMPLE_MS = 500;
const PRESENCE_TIMEOUT_MS = 60_000;
const MIB = 1024 * 1024;
/**
 * After the joins, this long without any client traffic: each instance's CPU
 * then is its background work (heartbeats; clustered: presence `alive` lists,
 * three per room per heartbeat period, and validating the others').
 */
const QUIET_MS = 5_000;

export interface DeploymentSettings extends Omit<PhaseSettings, 'serverPids' | 'instances'> {
  instances: number;
  clientsPerInstance: number;
  roomsPerInstance: number;
}

interface NatsLike {
  urls: string[];
  stop(): Promise<void>;
}

/** Prometheus counters of one instance that the result reports. */
async function instanceCounters(httpUrl: string) {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const relayed = Number(/^peerbench_signaling_relayed_messages_total (\d+)$/m.exec(text)?.[1]);
  const rejected = [
    ...text.matchAll(/^peerbench_signaling_rejected_messages_total\{code="([^"]+)"\} (\d+)$/gm),
  ]
    .filter((m) => m[2] !== '0')
    .map((m) => ({ code: m[1], count: Number(m[2]) }));
  return { relayedMessagesTotal: relayed, rejectedMessages: rejected };
}

/** Peak RSS of each server from /metrics every RSS_SAMPLE_MS (and VmHWM at the end). */
function watchRss(servers: readonly ServerChild[]) {
  const peak = servers.map(() => 0);
  const timer = setInterval(() => {
    for (const [i, s] of servers.entries())
      serverRssBytes(s.httpUrl).then(
        (rss) => {
          if (rss > (peak[i] ?? 0)) peak[i] = rss;
        },
        () => {},
      );
  }, RSS_SAMPLE_MS);
  return {
    stop: () => clearInterval(timer),
    peakMiB: (i: number, atEnd: number) =>
      round(Math.max(peak[i] ?? 0, atEnd, (procStatusKiB(servers[i]?.pid ?? -1, 'VmHWM') ?? 0) * 1024) / MIB),
  };
}

/** Starts the deployment, joins the clients, runs the phases, stops everything. */
export async function runDeployment(d: DeploymentSettings) {
  const log = (s: string) => d.log(`[${d.instances} instance${d.instances > 1 ? 's' : ''}] ${s}`);
  let nats: NatsLike | undefined;
  const servers: ServerChild[] = [];
  const clients: Client[] = [];
  let rss: ReturnType<typeof watchRss> | undefined;
  try {
    if (d.instances > 1) {
      // Loaded only here: the single-instance run needs no nats-server.
      const { startNats } = await import('@peerbench/ledger/nats-servers');
      nats = await startNats({ size: d.instances });
      log(`NATS cluster of ${d.instances} nodes: ${nats.urls.join(' ')}`);
    }
    for (let i = 0; i < d.instances; i++) {
      const natsUrls = nats ? [...nats.urls.slice(i), ...nats.urls.slice(0, i)] : undefined;
      servers.push(
        await startServerChild(undefined, 10_000, natsUrls ? { natsUrls, instanceId: `i${i}` } : undefined),
      );
    }
    log(`servers ${servers.map((s) => `${s.url} (pid ${s.pid})`).join(', ')}`);
    rss = watchRss(servers);
    const rssIdle = await Promise.all(servers.map((s) => serverRssBytes(s.httpUrl)));

    // ---- connect and join: client j in room r = j % R, on instance (⌊j / R⌋ + r) mod instances
    // (each room's members round-robin over the instances, rotated per room so each gets clientsPerInstance)
    const total = d.instances * d.clientsPerInstance;
    const rooms = d.instances * d.roomsPerInstance;
    const identities = await Promise.all(Array.from({ length: total }, () => generateIdentity()));
    const joinStart = performance.now();
    for (let i = 0; i < total; i += CONNECT_CONCURRENCY) {
      const batch = [];
      for (let j = i; j < Math.min(total, i + CONNECT_CONCURRENCY); j++) {
        const instance = (Math.floor(j / rooms) + (j % rooms)) % d.instances;
        const url = (servers[instance] as ServerChild).url;
        batch.push(connectClient(url, j, j % rooms, instance, identities[j] as Identity));
      }
      clients.push(...(await Promise.all(batch)));
      if ((i / CONNECT_CONCURRENCY) % 10 === 9) log(`joined ${clients.length}/${total}`);
    }
    const joinS = (performance.now() - joinStart) / 1000;
    const byRoom = new Map<number, Client[]>();
    for (const c of clients) byRoom.set(c.room, [...(byRoom.get(c.room) ?? []), c]);
    for (const c of clients) c.mates = (byRoom.get(c.room) ?? []).filter((o) => o !== c).map((o) => o.index);
    // Every client must know all its mates (across instances: presence over NATS) before anyone signals.
    const presenceStart = performance.now();
    const unaware = () =>
      clients.filter((c) => c.mates.some((m) => !c.known.has((clients[m] as Client).identity.peerId))).length;
    while (unaware() > 0 && performance.now() - presenceStart < PRESENCE_TIMEOUT_MS)
      await new Promise((r) => setTimeout(r, 100));
    if (unaware() > 0)
      throw new Error(`${unaware()} clients still miss room mates after ${PRESENCE_TIMEOUT_MS} ms`);
    const presenceS = (performance.now() - presenceStart) / 1000;
    const rssJoined = await Promise.all(servers.map((s) => serverRssBytes(s.httpUrl)));
    log(
      `all ${total} joined in ${joinS.toFixed(1)} s (presence complete ${presenceS.toFixed(1)} s later); RSS ${rssJoined.map((r) => (r / MIB).toFixed(0)).join('/')} MiB`,
    );

    const quietClocks = servers.map((s) => cpuMsOf(s.pid));
    await new Promise((r) => setTimeout(r, QUIET_MS));
    const quietCpuPercent = quietClocks.map((read) => round((read().serverCpuMs / QUIET_MS) * 100));
    log(`quiet for ${QUIET_MS} ms: server CPU ${quietCpuPercent.join('/')} % of a core`);

    const phases = await runPhases(clients, {
      ...d,
      log,
      serverPids: servers.map((s) => s.pid),
    });

    const rssEnd = await Promise.all(servers.map((s) => serverRssBytes(s.httpUrl)));
    const perInstance = await Promise.all(
      servers.map(async (s, i) => ({
        instance: i,
        clients: clients.filter((c) => c.instance === i).length,
        rssIdleMiB: round((rssIdle[i] ?? Number.NaN) / MIB),
        rssJoinedMiB: round((rssJoined[i] ?? Number.NaN) / MIB),
        rssPeakMiB: rss?.peakMiB(i, rssEnd[i] ?? 0) ?? Number.NaN,
        quietCpuPercentOfCore: quietCpuPercent[i],
        ...(await instanceCounters(s.httpUrl)),
      })),
    );
    return {
      instances: d.instances,
      natsNodes: nats ? d.instances : 0,
      clients: total,
      rooms,
      peersPerRoom: total / rooms,
      joinAllSeconds: round(joinS),
      presenceCompleteSeconds: round(presenceS),
      clientsClosed: clients.filter((c) => c.closed).length,
      ...phases,
      perInstance,
    };
  } finally {
    rss?.stop();
    for (const c of clients) c.ws.terminate();
    await Promise.all(servers.map((s) => s.stop()));
    await nats?.stop();
  }
}

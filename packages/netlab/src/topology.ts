/**
 * The standard topology: a "public" segment (a bridge in namespace `pub`,
 * where coturn and any server run) and N homes, each a host behind its own
 * NAT router, optionally with a delay forwarder spliced between host and
 * router.
 *
 *   host_i (10.i.0.2) ─ [shaper_i] ─ (10.i.0.1) router_i (198.18.0.(10+i)) ─┐
 *                                                       pub: br0 198.18.0.1 ┴─ …
 *
 * Addresses: the homes use 10.0.0.0/8 (private), the public segment
 * 198.18.0.0/24 (RFC 2544's benchmarking range, never routed on the
 * internet). It must not be a private range: coturn refuses relaying to the
 * private ranges (--denied-peer-ip), which is what keeps it from chasing the
 * homes' host candidates. Nothing here has a route out of its namespaces.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NetlabError } from './errors.js';
import type { Lab, Namespace } from './lab.js';
import {
  countedPackets,
  deleteTableRuleset,
  LOSS_TABLE,
  lossRuleset,
  type NatMode,
  natRouterRuleset,
} from './nft.js';
import type { LabProcess } from './process.js';

export const PUBLIC_SUBNET = '198.18.0.0/24';
export const PUBLIC_IP = '198.18.0.1';
/** Homes are numbered from 1; more would need a second public /24. */
export const MAX_HOMES = 200;

const SHAPER_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'shaper.py');

export interface Shaping {
  /** One-way delay added to every frame, each direction. */
  delayMs: number;
  /** Each frame's delay is drawn uniformly from delayMs ± jitterMs. */
  jitterMs: number;
  /** Seed of the forwarder's RNG (reproducible delays). */
  seed?: number;
}

export interface HomeSpec {
  nat: NatMode;
  /** Splice a delay forwarder between host and router (needs python3). */
  shaping?: Shaping;
}

export interface Home {
  /** 1-based. */
  index: number;
  nat: NatMode;
  host: Namespace;
  router: Namespace;
  /** The host's (private) address. */
  hostIp: string;
  /** The router's public address: what the world sees of this home. */
  wanIp: string;
  shaper: LabProcess | null;
  /** Changes delay/jitter of a shaped home while it runs. */
  setShaping(shaping: Shaping): void;
  /** Drops percent % of the host's UDP packets each way (nftables); 0 removes the rule. */
  setLoss(percent: number): Promise<void>;
  /** UDP packets the loss rule dropped so far (both ways), 0 without one. */
  lossDropped(): Promise<number>;
  /** Outage: the router's LAN link down (true) or back up (false). The host keeps its addresses and routes. */
  setOutage(down: boolean): Promise<void>;
}

export interface NatTopology {
  lab: Lab;
  public: Namespace;
  publicIp: string;
  homes: Home[];
}

async function csumOff(ns: Namespace, ...ifnames: string[]): Promise<void> {
  await ns.exec(['python3', SHAPER_SCRIPT, 'csum-off', ...ifnames]);
}

async function buildHome(lab: Lab, pub: Namespace, index: number, spec: HomeSpec): Promise<Home> {
  const router = await lab.addNamespace(`r${index}`);
  const host = await lab.addNamespace(`h${index}`);
  const wanIp = `198.18.0.${10 + index}`;
  const lanPrefix = `10.${index}.0`;
  const hostIp = `${lanPrefix}.2`;

  // WAN: router `wan` ↔ `r<i>` enslaved to the public bridge.
  await lab.veth(router, 'wan', pub, `r${index}`);
  await pub.ip('link', 'set', 'dev', `r${index}`, 'master', 'br0');
  await router.ip('addr', 'add', `${wanIp}/24`, 'dev', 'wan');

  let shaper: LabProcess | null = null;
  if (spec.shaping) {
    const s = await lab.addNamespace(`s${index}`);
    await lab.veth(host, 'eth0', s, 'a');
    await lab.veth(s, 'b', router, 'lan');
    await csumOff(host, 'eth0');
    await csumOff(router, 'lan');
    await csumOff(s, 'a', 'b');
    await s.ip('link', 'set', 'dev', 'a', 'promisc', 'on');
    await s.ip('link', 'set', 'dev', 'b', 'promisc', 'on');
    const { delayMs, jitterMs, seed = index } = spec.shaping;
    shaper = s.spawn(
      ['python3', '-u', SHAPER_SCRIPT, 'forward', 'a', 'b', String(delayMs), String(jitterMs), String(seed)],
      { stdin: true },
    );
    await shaper.waitForOutput(/shaper ready/, 10_000);
  } else {
    await lab.veth(host, 'eth0', router, 'lan');
  }
  await router.ip('addr', 'add', `${lanPrefix}.1/24`, 'dev', 'lan');
  await host.ip('addr', 'add', `${hostIp}/24`, 'dev', 'eth0');
  await host.ip('route', 'add', 'default', 'via', `${lanPrefix}.1`);
  await router.sysctl('net.ipv4.ip_forward', '1');
  await router.nft(natRouterRuleset(spec.nat, 'wan', 'lan'));

  let lossOn = false;
  return {
    index,
    nat: spec.nat,
    host,
    router,
    hostIp,
    wanIp,
    shaper,
    setShaping(shaping: Shaping) {
      if (!shaper?.child.stdin) throw new NetlabError('invalid-argument', `home ${index} has no shaper`);
      shaper.child.stdin.write(`set ${shaping.delayMs} ${shaping.jitterMs}\n`);
    },
    async setLoss(percent: number) {
      if (lossOn) await host.nft(deleteTableRuleset('inet', LOSS_TABLE));
      lossOn = false;
      if (percent > 0) {
        await host.nft(lossRuleset(percent));
        lossOn = true;
      }
    },
    async lossDropped() {
      if (!lossOn) return 0;
      return countedPackets((await host.exec(['nft', 'list', 'table', 'inet', LOSS_TABLE])).stdout);
    },
    async setOutage(down: boolean) {
      await router.setLinkUp('lan', !down);
    },
  };
}

/** Builds the public segment and one home per spec (home i gets index i + 1). */
export async function buildNatTopology(lab: Lab, homes: readonly HomeSpec[]): Promise<NatTopology> {
  if (homes.length > MAX_HOMES) throw new NetlabError('invalid-argument', `at most ${MAX_HOMES} homes`);
  const pub = await lab.addNamespace('pub');
  await lab.bridge(pub, 'br0');
  await pub.ip('addr', 'add', `${PUBLIC_IP}/24`, 'dev', 'br0');
  const built: Home[] = [];
  for (const [i, spec] of homes.entries()) built.push(await buildHome(lab, pub, i + 1, spec));
  return { lab, public: pub, publicIp: PUBLIC_IP, homes: built };
}

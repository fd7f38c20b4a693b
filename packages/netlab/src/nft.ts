/**
 * nftables rulesets of the lab. Each lives in its own table so it can be
 * replaced or deleted alone; they exist only inside lab namespaces, so they
 * vanish with them.
 */
import { NetlabError } from './errors.js';

/**
 * `endpoint-independent`: plain masquerade, which keeps the source port, so
 * one socket keeps one public port whatever it talks to (hole punching works).
 * `symmetric`: `masquerade random`, a new public port per destination, so the
 * port a STUN server saw is useless to a peer (only a relay gets through).
 */
export type NatMode = 'endpoint-independent' | 'symmetric';

export const NAT_TABLE = 'netlab_nat';
export const LOSS_TABLE = 'netlab_loss';
export const OUTAGE_TABLE = 'netlab_outage';

/**
 * A home router: NAT out of `wan`, forward only lan→wan and the answers back,
 * and nothing unsolicited into the router from `wan` (without that drop the
 * router answered a punch with ICMP port-unreachable, whose conntrack entry
 * made it remap the home's port, and hole punching failed even with plain
 * masquerade; see issue 18's facts).
 */
export function natRouterRuleset(mode: NatMode, wan: string, lan: string): string {
  const masquerade = mode === 'symmetric' ? 'masquerade random' : 'masquerade';
  return `table ip ${NAT_TABLE} {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "${wan}" ${masquerade}
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    iifname "${lan}" oifname "${wan}" accept
    iifname "${wan}" oifname "${lan}" ct state established,related accept
  }
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "${wan}" ct state new drop
  }
}
`;
}

/** Drops `percent` % of UDP packets each way (input and output of this namespace), at random. */
export function lossRuleset(percent: number): string {
  if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
    throw new NetlabError('invalid-argument', `loss percent must be an integer in 0..100, got ${percent}`);
  }
  return `table inet ${LOSS_TABLE} {
  chain input {
    type filter hook input priority -10; policy accept;
    meta l4proto udp numgen random mod 100 < ${percent} counter drop
  }
  chain output {
    type filter hook output priority -10; policy accept;
    meta l4proto udp numgen random mod 100 < ${percent} counter drop
  }
}
`;
}

/** Packets dropped so far, summed over the counters in `nft list table` output. */
export function countedPackets(listing: string): number {
  let total = 0;
  for (const m of listing.matchAll(/counter packets (\d+)/g)) total += Number(m[1]);
  return total;
}

/** `delete table` as a ruleset (nft -f). */
export function deleteTableRuleset(family: 'ip' | 'inet', table: string): string {
  return `delete table ${family} ${table}\n`;
}

/** The parts of the lab that need no root: the rulesets (the stats readers moved to @peerbench/mesh). */
import { describe, expect, it } from 'vitest';
import { countedPackets, lossRuleset, natRouterRuleset } from '../src/index.js';

describe('nftables rulesets', () => {
  it('symmetric NAT randomises the mapping, endpoint-independent keeps it', () => {
    expect(natRouterRuleset('symmetric', 'wan', 'lan')).toContain('oifname "wan" masquerade random');
    expect(natRouterRuleset('endpoint-independent', 'wan', 'lan')).toMatch(/oifname "wan" masquerade\n/);
  });

  it('both modes drop unsolicited inbound on the WAN side and forward only answers inward', () => {
    for (const mode of ['symmetric', 'endpoint-independent'] as const) {
      const rules = natRouterRuleset(mode, 'wan', 'lan');
      expect(rules).toContain('iifname "wan" ct state new drop');
      expect(rules).toContain('type filter hook forward priority filter; policy drop;');
      expect(rules).toContain('iifname "wan" oifname "lan" ct state established,related accept');
    }
  });

  it('loss is a whole percentage, applied each way', () => {
    const rules = lossRuleset(2);
    expect(rules.match(/numgen random mod 100 < 2 counter drop/g)).toHaveLength(2);
    for (const bad of [-1, 101, 2.5, Number.NaN]) {
      expect(() => lossRuleset(bad)).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    }
  });
});

describe('countedPackets', () => {
  it('sums the counters of an nft listing', () => {
    const listing = `table inet netlab_loss {
  chain input { meta l4proto udp numgen random mod 100 < 5 counter packets 7 bytes 700 drop }
  chain output { meta l4proto udp numgen random mod 100 < 5 counter packets 12 bytes 1200 drop }
}`;
    expect(countedPackets(listing)).toBe(19);
    expect(countedPackets('table inet x {}')).toBe(0);
  });
});

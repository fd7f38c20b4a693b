/** The parts of the lab that need no root: rulesets and reading the selected pair from stats. */
import { describe, expect, it } from 'vitest';
import {
  countedPackets,
  isTurnAuthError,
  lossRuleset,
  natRouterRuleset,
  selectedPairFromStats,
} from '../src/index.js';

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

describe('selectedPairFromStats', () => {
  const candidate = (id: string, candidateType: string, address: string) => [
    id,
    {
      id,
      type: id.startsWith('L') ? 'local-candidate' : 'remote-candidate',
      candidateType,
      address,
      port: 5000,
      protocol: 'udp',
    },
  ];
  const report = (selectedId: string | undefined, pairs: [string, string, string][]) =>
    new Map<string, unknown>([
      ['T', { id: 'T', type: 'transport', ...(selectedId ? { selectedCandidatePairId: selectedId } : {}) }],
      candidate('Lhost', 'host', '10.1.0.2') as [string, unknown],
      candidate('Lrelay', 'relay', '198.18.0.1') as [string, unknown],
      candidate('Rsrflx', 'srflx', '198.18.0.12') as [string, unknown],
      candidate('Rprflx', 'prflx', '198.18.0.12') as [string, unknown],
      ...pairs.map(
        ([id, l, r]) =>
          [
            id,
            {
              id,
              type: 'candidate-pair',
              localCandidateId: l,
              remoteCandidateId: r,
              currentRoundTripTime: 0.08,
            },
          ] as [string, unknown],
      ),
    ]);

  it('follows transport.selectedCandidatePairId to the pair and its candidates', () => {
    const pairs: [string, string, string][] = [
      ['P1', 'Lhost', 'Rsrflx'],
      ['P2', 'Lrelay', 'Rprflx'],
    ];
    expect(selectedPairFromStats(report('P1', pairs))).toEqual({
      local: { candidateType: 'host', address: '10.1.0.2', port: 5000, protocol: 'udp' },
      remote: { candidateType: 'srflx', address: '198.18.0.12', port: 5000, protocol: 'udp' },
      relayed: false,
      currentRoundTripTimeS: 0.08,
    });
    expect(selectedPairFromStats(report('P2', pairs))?.relayed).toBe(true);
  });

  it("reads simple-peer's array form (entries with their id) the same way", () => {
    const map = report('P2', [['P2', 'Lrelay', 'Rprflx']]);
    expect(selectedPairFromStats([...map.values()])).toEqual(selectedPairFromStats(map));
    expect(selectedPairFromStats([...map.values()])?.local.candidateType).toBe('relay');
  });

  it('is null while nothing is selected, or when the stats are incomplete', () => {
    expect(selectedPairFromStats(report(undefined, [['P1', 'Lhost', 'Rsrflx']]))).toBeNull();
    expect(selectedPairFromStats(report('P9', [['P1', 'Lhost', 'Rsrflx']]))).toBeNull();
    expect(selectedPairFromStats(report('P1', [['P1', 'Lhost', 'Rmissing']]))).toBeNull();
    expect(selectedPairFromStats(new Map())).toBeNull();
  });
});

describe('isTurnAuthError', () => {
  it('is a 401 from a turn: or turns: URL only', () => {
    expect(isTurnAuthError({ errorCode: 401, url: 'turn:198.18.0.1:3478?transport=udp' })).toBe(true);
    expect(isTurnAuthError({ errorCode: 401, url: 'turns:t.example:5349' })).toBe(true);
    expect(isTurnAuthError({ errorCode: 701, url: 'turn:198.18.0.1:3478' })).toBe(false);
    expect(isTurnAuthError({ errorCode: 401, url: 'stun:198.18.0.1:3478' })).toBe(false);
  });
});

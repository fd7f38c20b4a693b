/** Reading the selected candidate pair and the connection type from getStats(), and TURN 401s: pure. */
import { describe, expect, it } from 'vitest';
import { connectionTypeOf, isTurnAuthError, selectedPairFromStats } from '../src/ice-stats.js';

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

describe('connectionTypeOf', () => {
  const side = (candidateType: 'host' | 'srflx' | 'prflx' | 'relay') => ({
    candidateType,
    address: '198.18.0.1',
    port: 1,
    protocol: 'udp',
  });
  const pair = (l: Parameters<typeof side>[0], r: Parameters<typeof side>[0]) => ({
    local: side(l),
    remote: side(r),
    relayed: l === 'relay' || r === 'relay',
  });

  it('is relay when either side is a relay, else named by the most public candidate', () => {
    expect(connectionTypeOf(pair('relay', 'prflx'))).toBe('relay');
    expect(connectionTypeOf(pair('host', 'relay'))).toBe('relay');
    expect(connectionTypeOf(pair('srflx', 'prflx'))).toBe('direct-srflx');
    expect(connectionTypeOf(pair('host', 'srflx'))).toBe('direct-srflx');
    expect(connectionTypeOf(pair('prflx', 'host'))).toBe('direct-prflx');
    expect(connectionTypeOf(pair('host', 'host'))).toBe('direct-host');
  });
});

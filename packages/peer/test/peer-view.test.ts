import { describe, expect, it } from 'vitest';
import type { ChainState } from '../src/chain.js';
import {
  appendBounded,
  appendNewPoints,
  blockPoint,
  INITIAL_PEER_STATS,
  networkView,
  peerError,
  peerRows,
  stepStats,
} from '../src/peer-view.js';

const STATE: ChainState = {
  height: 7,
  epsilon: 0.25,
  tau: 0.12,
  peerIds: ['me', 'a', 'b'],
  stakes: [1.5, 2, 0.5],
  ranks: [0.2, 0.5, 0.3],
  weights: [
    [
      [1, 0.75],
      [2, 0.25],
    ],
    [[0, 1]],
    [],
  ],
  selfWeightsInRank: false,
};

describe('peer view', () => {
  it('appendBounded keeps the newest `limit` points and leaves the input alone', () => {
    const h = [1, 2, 3];
    expect(appendBounded(h, 4, 3)).toEqual([2, 3, 4]);
    expect(appendBounded(h, 4, 10)).toEqual([1, 2, 3, 4]);
    expect(h).toEqual([1, 2, 3]);
  });

  it('appendNewPoints appends only what lies beyond the last key, capped, and returns the same array when nothing is new', () => {
    const a = [1, 2];
    expect(appendNewPoints(a, [1, 2], (p) => p, 10)).toBe(a);
    expect(appendNewPoints(a, [2, 3, 4], (p) => p, 10)).toEqual([1, 2, 3, 4]);
    expect(appendNewPoints(a, [3, 4, 5], (p) => p, 3)).toEqual([3, 4, 5]);
    expect(a).toEqual([1, 2]);
  });

  it('networkView copies the rows of W (a row the chain state grows later does not show) and carries selfWeightsInRank', () => {
    const state = structuredClone(STATE);
    const view = networkView(state);
    expect(view.peers).toEqual([
      { uid: 0, peerId: 'me', stake: 1.5, rank: 0.2 },
      { uid: 1, peerId: 'a', stake: 2, rank: 0.5 },
      { uid: 2, peerId: 'b', stake: 0.5, rank: 0.3 },
    ]);
    state.weights[0]!.push([0, 9]);
    expect(view.weights[0]).toEqual([
      [1, 0.75],
      [2, 0.25],
    ]);
    expect(view.selfWeightsInRank).toBe(false);
    expect('selfWeightsInRank' in networkView({ ...STATE, selfWeightsInRank: undefined })).toBe(false);
    expect(blockPoint(STATE, 1, 123)).toEqual({ height: 7, timeMs: 123, stake: 2, rank: 0.5, tau: 0.12 });
  });

  it('peerRows: self first, our w_ij from our row, stake and rank by uid, unknown peers with uid null', () => {
    const rows = peerRows({
      slots: ['me', 'a', null, 'c', 'b'],
      gateWeights: [0.5, 0.2, 0, 0.1, 0.2],
      online: new Set(['a']),
      latencyMs: new Map([['a', 12]]),
      uidOf: (p) => (STATE.peerIds.indexOf(p) < 0 ? null : STATE.peerIds.indexOf(p)),
      network: networkView(STATE),
      uid: 0,
    });
    expect(rows.map((r) => r.peerId)).toEqual(['me', 'a', 'c', 'b']);
    expect(rows[0]).toMatchObject({
      isSelf: true,
      online: true,
      latencyMs: 0,
      uid: 0,
      weight: 0,
      stake: 1.5,
    });
    expect(rows[1]).toMatchObject({
      online: true,
      latencyMs: 12,
      uid: 1,
      weight: 0.75,
      gateWeight: 0.2,
      rank: 0.5,
    });
    expect(rows[2]).toMatchObject({
      online: false,
      latencyMs: null,
      uid: null,
      weight: 0,
      stake: 0,
      gateWeight: 0.1,
    });
    expect(rows[3]).toMatchObject({ online: false, uid: 2, weight: 0.25, stake: 0.5 });
  });

  it('stepStats takes the answer and server counters and keeps the weight-tx counts', () => {
    const prev = { ...INITIAL_PEER_STATS, weightTxsSubmitted: 3, weightTxsFailed: 1 };
    const answers = {
      requested: 10,
      accepted: 6,
      invalid: 1,
      late: 2,
      failed: 1,
      standIn: 4,
      backwardSent: 6,
      backwardFailed: 0,
      forwardRequestBytes: 800,
      forwardAnswerBytes: 400,
    };
    const server = { forwardsServed: 5, backwardsApplied: 3, backwardsRefused: 2 } as Parameters<
      typeof stepStats
    >[2];
    const s = stepStats(prev, answers, server, 4, 17, 99);
    expect(s).toMatchObject({
      forwardRequested: 10,
      answersAccepted: 6,
      answersLate: 2,
      standInUsed: 4,
      forwardsServed: 5,
      remoteGradientsRefused: 2,
      weightTxsSubmitted: 3,
      weightTxsFailed: 1,
      forwardBytesPerStep: 300,
      lastStepMs: 17,
      numTensors: 99,
    });
    expect(stepStats(prev, answers, undefined, 0, 1, 0).forwardBytesPerStep).toBe(1200);
    expect(peerError('x', new Error('boom'))).toEqual({ code: 'x', message: 'boom' });
    expect(peerError('y', 'plain')).toEqual({ code: 'y', message: 'plain' });
  });
});

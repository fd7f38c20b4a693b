import type { BackendReport, BlockPoint, PeerSnapshot, StepPoint } from '@peerbench/peer';
import { initialSnapshot } from '@peerbench/peer';
import { describe, expect, it } from 'vitest';
import { describeBackend, isFallback, type ProbeEnv, probeBackends } from '../src/backendProbe.js';
import { parseLaunchConfig } from '../src/config.js';
import { MAX_LOSS_POINTS } from '../src/persistence.js';
import {
  type AppState,
  appendNewPoints,
  createAppStore,
  denseWeights,
  headline,
  initialAppState,
  notices,
  rankSources,
  reduceRestoredHistory,
  reduceSnapshot,
} from '../src/store.js';

const ME = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);
const launch = parseLaunchConfig(new URL('http://h/?room=r1'));
const base = (): AppState => initialAppState(launch, 'http://h/?room=r1');
const step = (i: number): StepPoint => ({ step: i, timeMs: 1000 + i, loss: 1 / (i + 1) });
const block = (h: number, rank = 0.5): BlockPoint => ({
  height: h,
  timeMs: h * 1000,
  stake: h,
  rank,
  tau: 0.1,
});
function snap(patch: Partial<PeerSnapshot>): PeerSnapshot {
  return { ...initialSnapshot(ME, 'r1'), ...patch };
}

describe('appendNewPoints', () => {
  it('appends only points beyond the last key and returns the same array when nothing is new', () => {
    const a = [step(1), step(2)];
    expect(appendNewPoints(a, [step(1), step(2)], (p) => p.timeMs, 10)).toBe(a);
    const b = appendNewPoints(a, [step(2), step(3), step(4)], (p) => p.timeMs, 10);
    expect(b.map((p) => p.step)).toEqual([1, 2, 3, 4]);
    expect(a).toHaveLength(2);
  });

  it('caps at max, keeping the newest', () => {
    const out = appendNewPoints([step(1)], [step(2), step(3), step(4)], (p) => p.timeMs, 3);
    expect(out.map((p) => p.step)).toEqual([2, 3, 4]);
  });
});

describe('reduceSnapshot', () => {
  it('merges live history after restored history: a reload continues the same stake curve', () => {
    const store = createAppStore(base());
    store.setState((s) => reduceRestoredHistory(s, { loss: [step(1)], blocks: [block(1), block(2)] }));
    // The fresh Peer after a reload knows only blocks from now on, and may repeat an old one.
    store.setState((s) =>
      reduceSnapshot(s, snap({ blockHistory: [block(2), block(3)], lossHistory: [step(0)] })),
    );
    const s = store.getState();
    expect(s.blockHistory.map((b) => b.height)).toEqual([1, 2, 3]);
    // step(0) has an older timeMs than the restored point: not appended.
    expect(s.lossHistory.map((p) => p.step)).toEqual([1]);
    expect(s.phase).toBe('contributing');
  });

  it('keeps history references when a snapshot brings nothing new (charts skip redraws)', () => {
    let s = {
      ...base(),
      ...reduceSnapshot(base(), snap({ lossHistory: [step(1)], blockHistory: [block(1)] })),
    };
    const before = { loss: s.lossHistory, blocks: s.blockHistory };
    s = { ...s, ...reduceSnapshot(s, snap({ lossHistory: [step(1)], blockHistory: [block(1)], step: 9 })) };
    expect(s.lossHistory).toBe(before.loss);
    expect(s.blockHistory).toBe(before.blocks);
  });

  it('bounds the loss history', () => {
    const many = Array.from({ length: MAX_LOSS_POINTS + 50 }, (_, i) => step(i));
    const s = reduceSnapshot(base(), snap({ lossHistory: many }));
    expect(s.lossHistory).toHaveLength(MAX_LOSS_POINTS);
    expect(s.lossHistory?.[0]?.step).toBe(50);
  });
});

describe('headline and notices', () => {
  const network = {
    height: 7,
    tau: 0.2,
    peers: [
      { uid: 0, peerId: ME, stake: 2, rank: 0.2 },
      { uid: 1, peerId: OTHER, stake: 3, rank: 0.8 },
    ],
    weights: [[[1, 1] as [number, number]], [[0, 0.5] as [number, number], [1, 0.5] as [number, number]]],
  };
  const selfRow = {
    peerId: ME,
    uid: 0,
    online: true,
    isSelf: true,
    latencyMs: null,
    gateWeight: 0.5,
    weight: 0,
    stake: 2,
    rank: 0.2,
  };
  const otherRow = { ...selfRow, peerId: OTHER, uid: 1, isSelf: false, online: false, latencyMs: 3 };

  it('derives height, τ, own stake, rank and position', () => {
    const s = {
      ...base(),
      ...reduceSnapshot(
        base(),
        snap({ uid: 0, network, blockHistory: [block(7, 0.2)], peers: [selfRow, otherRow] }),
      ),
    };
    expect(headline(s)).toEqual({
      height: 7,
      tau: 0.2,
      stake: 7,
      rank: 0.2,
      rankPosition: 2,
      peersOnline: 0,
      peersKnown: 1,
    });
  });

  it('says "no peers yet" only when connected, running and nobody else is online', () => {
    const none = () => null;
    const running = {
      ...base(),
      snapshot: snap({ status: 'running', connection: 'connected', peers: [selfRow, otherRow] }),
    };
    expect(notices(running, none).map((n) => n.code)).toEqual(['no-peers']);
    const withPeer = {
      ...running,
      snapshot: snap({
        status: 'running',
        connection: 'connected',
        peers: [selfRow, { ...otherRow, online: true }],
      }),
    };
    expect(notices(withPeer, none)).toEqual([]);
    const connecting = { ...running, snapshot: snap({ status: 'running', connection: 'connecting' }) };
    expect(notices(connecting, none)).toEqual([]);
  });

  it('puts an unreachable server first, with a retry action', () => {
    const s = {
      ...base(),
      appError: { code: 'server-unreachable', message: 'Cannot reach ws://h/ws' },
      snapshot: snap({ connection: 'reconnecting' }),
    };
    const list = notices(s, () => null);
    expect(list[0]).toMatchObject({ kind: 'error', code: 'server-unreachable', action: 'retry' });
    expect(list.some((n) => n.code === 'reconnecting')).toBe(false);
  });

  it('shows a backend fallback as information, with the reason', () => {
    const report: BackendReport = {
      chosen: 'wasm',
      forced: false,
      attempts: [
        { backend: 'webgpu', ok: false, reason: 'no adapter' },
        { backend: 'webgl', ok: false, reason: 'WebGL2 is unavailable' },
        { backend: 'wasm', ok: true },
      ],
    };
    const s = { ...base(), probe: report };
    const list = notices(s, (r) => (isFallback(r) ? describeBackend(r) : null));
    expect(list).toEqual([expect.objectContaining({ kind: 'info', code: 'backend-fallback' })]);
    expect(list[0]?.message).toBe('WASM, because WebGPU: no adapter; WebGL: WebGL2 is unavailable.');
  });
});

describe('denseWeights', () => {
  it('fills the sparse rows and ignores out-of-range or non-finite entries', () => {
    const w = denseWeights(
      [
        [
          [1, 0.75],
          [0, 0.25],
        ],
        [
          [5, 1],
          [1, Number.NaN],
        ],
      ],
      2,
    );
    expect(Array.from(w)).toEqual([0.25, 0.75, 0, 0]);
  });
});

describe('probeBackends', () => {
  const env = (p: Partial<ProbeEnv>): ProbeEnv => ({ gpu: undefined, webgl2: () => false, wasm: true, ...p });

  it('takes the first backend that works, in the order WebGPU, WebGL, WASM, CPU', async () => {
    const noAdapter = { requestAdapter: async () => null };
    expect((await probeBackends(null, env({ gpu: noAdapter, webgl2: () => true }))).chosen).toBe('webgl');
    expect((await probeBackends(null, env({ gpu: { requestAdapter: async () => ({}) } }))).chosen).toBe(
      'webgpu',
    );
    expect((await probeBackends(null, env({ wasm: false }))).chosen).toBe('cpu');
  });

  it('honours a forced backend, and falls back with the reason when it cannot run', async () => {
    const forced = await probeBackends('cpu', env({ webgl2: () => true }));
    expect(forced).toEqual({ chosen: 'cpu', forced: true, attempts: [{ backend: 'cpu', ok: true }] });
    const impossible = await probeBackends('webgpu', env({ webgl2: () => true }));
    expect(impossible.chosen).toBe('webgl');
    expect(describeBackend(impossible)).toBe(
      'WebGPU was requested in the link but this browser has no WebGPU; using WebGL instead.',
    );
  });
});

describe('describeBackend with the runtime report', () => {
  it('treats backends skipped because another was forced as neither failure nor fallback', () => {
    const report: BackendReport = {
      chosen: 'wasm',
      forced: true,
      attempts: [
        { backend: 'webgpu', ok: false, reason: 'skipped: another backend was forced' },
        { backend: 'webgl', ok: false, reason: 'skipped: another backend was forced' },
        { backend: 'wasm', ok: true },
        { backend: 'cpu', ok: false, reason: 'skipped: another backend was forced' },
      ],
    };
    expect(isFallback(report)).toBe(false);
    expect(describeBackend(report)).toBe('WASM, as requested in the link (?backend=wasm).');
  });
});

describe('notices for a failed start', () => {
  it("shows the runtime error once, not again as the Peer's start-failed", () => {
    const s = {
      ...base(),
      appError: { code: 'server-unreachable', message: 'Cannot reach ws://h/ws' },
      snapshot: snap({
        status: 'error',
        error: { code: 'start-failed', message: 'no tfjs backend could run' },
      }),
    };
    expect(notices(s, () => null).map((n) => n.code)).toEqual(['server-unreachable']);
  });
});

describe('rankSources', () => {
  const net = {
    height: 3,
    tau: 0.1,
    peers: [
      { uid: 0, peerId: 'a', stake: 2, rank: 0 },
      { uid: 1, peerId: 'b', stake: 1, rank: 0 },
      { uid: 2, peerId: 'c', stake: 1, rank: 0 },
    ],
    weights: [
      [
        [0, 0.5],
        [1, 0.5],
      ],
      [
        [1, 0.8],
        [2, 0.2],
      ],
      [[1, 1]],
    ] as Array<Array<[number, number]>>,
  };

  it('splits the stake-weighted column into the own row and the others, largest first', () => {
    // Column of uid 1: own 1·0.8, from uid 0 2·0.5 = 1, from uid 2 1·1 = 1.
    const r = rankSources(net, 1)!;
    expect(r.ownShare).toBeCloseTo(0.8 / 2.8, 12);
    expect(r.from.map((f) => f.uid)).toEqual([0, 2]);
    expect(r.from[0]!.share).toBeCloseTo(0.5, 12);
  });

  it('is null before a block, for an unknown uid, or when nobody values the peer', () => {
    expect(rankSources(null, 1)).toBeNull();
    expect(rankSources(net, null)).toBeNull();
    expect(rankSources({ ...net, weights: [[[0, 1]], [[1, 1]], [[2, 1]]] }, 2)!.ownShare).toBe(1);
    expect(rankSources({ ...net, weights: [[[0, 1]], [[1, 1]], []] }, 2)).toBeNull();
  });

  it('on a ledger that leaves w_ii out of R, the own row counts for nothing', () => {
    const masked = { ...net, selfWeightsInRank: false };
    const r = rankSources(masked, 1)!;
    expect(r.ownCounted).toBe(false);
    expect(r.ownShare).toBe(0);
    expect(r.from.map((f) => f.uid)).toEqual([0, 2]);
    // Only its own row values uid 2: its rank comes from nobody.
    expect(rankSources({ ...masked, weights: [[[0, 1]], [[1, 1]], [[2, 1]]] }, 2)).toEqual({
      ownShare: 0,
      ownCounted: false,
      from: [],
    });
  });
});

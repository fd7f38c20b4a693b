/** The soak's judge (soak-report.ts) on made-up records: each target it checks can fail. No root needed. */
import { describe, expect, it } from 'vitest';
import { evaluateSoak, type StepRecord, soakSvg, type TrainingSoakResult } from '../src/index.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const OUTAGE = { home: 2, peerId: B, startMs: 10_000, endMs: 30_000 };

function step(i: number, startMs: number, over: Partial<StepRecord> = {}): StepRecord {
  return {
    step: i,
    startMs,
    endMs: startMs + 500,
    loss: 1 / i,
    standIns: [],
    remote: [],
    late: 0,
    failedCalls: 0,
    numTensors: 80,
    online: 1,
    ...over,
  };
}

/** Steps every second from 0 to 60 s; during [10, 33) s the pair stands in for each other, else answers. */
function steps(self: string, other: string, backAtMs = 33_000): StepRecord[] {
  const out: StepRecord[] = [];
  for (let t = 0, i = 1; t < 60_000; t += 1_000, i++) {
    const down = t + 500 >= OUTAGE.startMs && t < backAtMs;
    out.push(step(i, t, down ? { standIns: [other] } : { remote: [other] }));
  }
  void self;
  return out;
}

function soak(over: { a?: StepRecord[]; b?: StepRecord[] } = {}): TrainingSoakResult {
  return {
    runStartMs: 0,
    runEndMs: 60_000,
    outage: OUTAGE,
    peers: [
      { peerId: A, home: 1, uid: 0, steps: over.a ?? steps(A, B), links: [], stats: null },
      { peerId: B, home: 2, uid: 1, steps: over.b ?? steps(B, A), links: [], stats: null },
    ],
    chain: {
      height: 20,
      rows: [
        { peerId: A, uid: 0, lastSetHeight: 19, othersInRow: 1 },
        { peerId: B, uid: 1, lastSetHeight: 18, othersInRow: 1 },
      ],
    },
  };
}

describe('evaluateSoak', () => {
  it('a clean run meets every target', () => {
    const f = evaluateSoak(soak());
    expect(f.violations).toEqual([]);
    expect(f.standInsDuring).toBe(2 * 23);
    // The first step starting at or after 30 s that used the other's answer is the one at 33 s, ending at 33.5 s.
    expect(f.linkBackMs).toBe(3_500);
  });

  it('flags failed steps, NaN losses, stand-ins outside the outage, a leak and a missing row', () => {
    const a = steps(A, B);
    a[2] = { ...a[2]!, error: 'boom', loss: Number.NaN };
    a[3] = { ...a[3]!, loss: Number.NaN };
    a[50] = { ...a[50]!, standIns: [B], remote: [] };
    a[59] = { ...a[59]!, numTensors: 81 };
    const r = soak({ a });
    r.chain.rows[1] = { ...r.chain.rows[1]!, lastSetHeight: 0 };
    const f = evaluateSoak(r);
    expect(f.failedSteps).toBe(1);
    expect(f.nanLosses).toBe(1);
    expect(f.standInsOutside).toEqual([{ caller: A, callee: B, step: 51, atS: 50 }]);
    expect(f.tensors[0]!.growth).toBe(1);
    expect(f.chainRowsMissing).toEqual([B]);
    expect(f.violations).toHaveLength(5);
  });

  it('a stand-in outside the outage for an answer that was only late is reported, not a violation; with a failed call it is one', () => {
    const a = steps(A, B);
    a[50] = { ...a[50]!, standIns: [B], remote: [], late: 1 };
    a[52] = { ...a[52]!, standIns: [B], remote: [], late: 1, failedCalls: 1 };
    const f = evaluateSoak(soak({ a }));
    expect(f.standInsLate).toEqual([{ caller: A, callee: B, step: 51, atS: 50 }]);
    expect(f.standInsOutside).toEqual([{ caller: A, callee: B, step: 53, atS: 52 }]);
    expect(f.violations).toEqual(['1 stand-in answers outside the outage']);
  });

  it('a link back later than 15 s, or never, misses the target', () => {
    expect(evaluateSoak(soak({ a: steps(A, B, 46_000) })).violations).toEqual([
      'the link came back 16500 ms after the outage (> 15000)',
    ]);
    const never = evaluateSoak(soak({ b: steps(B, A, 99_000) }));
    expect(never.linkBackMs).toBeNull();
    expect(never.violations).toContain('a link to the cut host never carried answers again');
  });

  it('a stand-in between two peers that were never cut off is outside the outage even during it', () => {
    const c = 'c'.repeat(64);
    const r = soak();
    r.peers.push({
      peerId: c,
      home: 3,
      uid: 2,
      steps: [step(1, 15_000, { standIns: [A] })],
      links: [],
      stats: null,
    });
    r.chain.rows.push({ peerId: c, uid: 2, lastSetHeight: 5, othersInRow: 2 });
    const f = evaluateSoak(r);
    expect(f.standInsOutside).toEqual([{ caller: c, callee: A, step: 1, atS: 15 }]);
  });

  it('draws both panels with the outage shaded', () => {
    const svg = soakSvg(soak(), 'test');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('stand-in answers per step');
    expect(svg.match(/fill-opacity="0.12"/g)).toHaveLength(2);
  });
});

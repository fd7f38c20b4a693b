/**
 * The CI version of issue 18's training soak (bench/training-soak.ts runs
 * the 10-minute one): 4 real Peers (tfjs WASM, the mesh over wrtc, the
 * ledger over the signaling socket) in separate homes behind NATs, 80 ms RTT
 * ± 20 ms, 2 % UDP loss per path, the signaling server's CLI with its
 * embedded ledger; 55 s of training with one home cut off for 20 s. Asserts
 * the issue's targets on the records, the link's return within 15 s of the
 * outage's end included. Needs root, `ip netns`, nftables, coturn and python3.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TRAINING_SOAK,
  evaluateSoak,
  Lab,
  LINK_BACK_WITHIN_MS,
  labUnavailableReason,
  runTrainingSoak,
  soakSummary,
} from '../src/index.js';

const unavailable = labUnavailableReason();
if (unavailable) console.warn(`netlab training soak skipped: ${unavailable}`);

describe.skipIf(unavailable !== null)('training soak, short (network namespaces)', () => {
  it('4 peers train through delay, jitter, loss and a 20 s outage of one host: no failed step, no NaN, stand-ins only during the outage, the link back within 15 s, tensors flat, every row on the chain', async () => {
    const result = await runTrainingSoak({
      ...DEFAULT_TRAINING_SOAK,
      durationS: 55,
      outageAtS: 12,
      outageS: 20,
      log: (line) => console.info(`soak: ${line}`),
    });
    const f = evaluateSoak(result);
    console.info(soakSummary(result, f));

    expect(f.stepsByPeer.every((n) => n >= 10)).toBe(true);
    expect(f.failedSteps).toBe(0);
    expect(f.nanLosses).toBe(0);
    // The cut peer was stood in for (and stood in for the others) while it was gone, and only then.
    expect(f.standInsDuring).toBeGreaterThan(0);
    expect(f.standInsOutside).toEqual([]);
    // The link came back within 15 s of the outage's end (issue 18's target, LINK_BACK_WITHIN_MS).
    // Before the signaling keepalive it took 17-18 s (the cut host's socket looked open while TCP
    // backed off); with it, 2.5-4.6 s in three runs on a loaded machine
    // (docs/results/nat-training-soak.md), so the issue's own bound leaves a 3x margin.
    expect(f.linkBackMs).not.toBeNull();
    expect(f.linkBackMs!).toBeLessThan(LINK_BACK_WITHIN_MS);
    for (const t of f.tensors) expect(t.growth).toBeLessThanOrEqual(0);
    expect(result.chain.rows.map((r) => r.uid !== null)).toEqual([true, true, true, true]);
    // Every peer's weight row is on the chain (the target). Whether each row also weighs
    // another peer is the 10-minute soak's stricter check (evaluateSoak): in 55 s on a loaded
    // 2-core CI machine a peer with ~50 steps can legitimately score its neighbours 0 (seen once).
    expect(result.chain.rows.filter((r) => r.lastSetHeight <= 0)).toEqual([]);
    if (f.chainRowsMissing.length > 0)
      console.warn(`rows that weigh no other peer after the short run: ${f.chainRowsMissing.length}`);
    // Everything the soak made is gone.
    expect(Lab.existing(result.labRunId)).toEqual([]);
  }, 240_000);
});

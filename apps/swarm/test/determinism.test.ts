import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend.js';
import { main } from '../src/cli.js';
import type { SwarmRecord } from '../src/record.js';

/** The record without what measures wall time (the only fields allowed to differ between two runs). */
function withoutTimes(record: SwarmRecord): string {
  const r = structuredClone(record) as unknown as {
    createdAt?: string;
    steps: Array<{ ms?: number; cpuMs?: number }>;
    summary: Record<string, unknown>;
    backend?: { chosen: string } | string;
  };
  delete r.createdAt;
  // The backend trial's step times are wall times; which backend won is kept.
  if (r.backend && typeof r.backend === 'object') r.backend = r.backend.chosen;
  for (const s of r.steps) {
    delete s.ms;
    delete s.cpuMs; // CPU time of the step: measured, like ms
  }
  for (const k of ['wallSeconds', 'stepsPerSecond', 'networkShare', 'servingShare']) delete r.summary[k];
  return JSON.stringify(r);
}

// Every random choice (identities, data and batch order, weight init, gate
// noise, the noise peer's answers) comes from --seed: two runs of the same
// command on the memory transport write the same swarm.json, and another
// seed does not.
describe('swarm determinism', () => {
  let dir: string;
  const run = async (out: string, seed: number): Promise<string> => {
    const code = await main(
      `--peers 3 --steps 12 --block-steps 4 --eval-every 6 --eval-size 50 --seed ${seed} --adversary noise:1,selfdeal:1 --ablate --ablation-draws 1 --quiet --out ${out}`.split(
        ' ',
      ),
      dir,
    );
    expect(code).toBe(0);
    return withoutTimes(JSON.parse(readFileSync(join(dir, out, 'swarm.json'), 'utf8')) as SwarmRecord);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'swarm-det-'));
    await initBackend();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the same seed gives the same swarm.json, bit for bit apart from wall times', async () => {
    const a = await run('a', 5);
    const b = await run('b', 5);
    const c = await run('c', 6);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  }, 120_000);
});

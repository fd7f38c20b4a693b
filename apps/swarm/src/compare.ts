/**
 * `tsx src/compare.ts OUT.svg LABEL=DIR/swarm.json …`: B over steps of several
 * runs on one chart (e.g. shared vs isolated with the same seed and budget).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { lineChart } from './plot.js';
import type { SwarmRecord } from './record.js';

export function compareB(runs: { label: string; record: SwarmRecord }[]): string {
  return lineChart({
    title: 'B = Σ L_i on held-out data',
    xLabel: 'step',
    yLabel: 'B',
    series: runs.map((r) => ({
      name: r.label,
      points: r.record.steps.filter((s) => s.B !== undefined).map((s) => [s.step, s.B!] as [number, number]),
    })),
  });
}

const [out, ...specs] = process.argv.slice(2);
if (out && specs.length > 0) {
  const runs = specs.map((spec) => {
    const eq = spec.indexOf('=');
    if (eq < 1) throw new Error(`expected LABEL=PATH, got '${spec}'`);
    return {
      label: spec.slice(0, eq),
      record: JSON.parse(readFileSync(spec.slice(eq + 1), 'utf8')) as SwarmRecord,
    };
  });
  writeFileSync(out, compareB(runs));
  process.stderr.write(`wrote ${out}\n`);
}

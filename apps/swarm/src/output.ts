/** Writes DIR/swarm.json and the three SVG plots. */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { heatmap, lineChart } from './plot.js';
import type { SwarmRecord } from './record.js';

export const OUTPUT_FILES = ['swarm.json', 'loss-B.svg', 'rank.svg', 'weights.svg'] as const;

export function participantLabel(record: SwarmRecord, i: number): string {
  const p = record.participants[i]!;
  if (p.kind === 'noise') return `noise${i}`;
  if (p.kind === 'copy') return `copy${i}`;
  return `p${i} (${p.shardSize})`;
}

/** JSON.stringify with non-finite numbers as null (they should not occur, but a file must stay valid). */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1);
}

export function writeOutputs(dir: string, record: SwarmRecord): string[] {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const write = (name: string, text: string) => {
    // Write then rename, so an interrupted write never leaves half a file.
    const path = join(dir, name);
    writeFileSync(`${path}.tmp`, text);
    renameSync(`${path}.tmp`, path);
    files.push(path);
  };
  write('swarm.json', toJson(record));
  const evals = record.steps.filter((s) => s.B !== undefined);
  write(
    'loss-B.svg',
    lineChart({
      title: `B = Σ L_i on held-out data (${record.options.mode}, ${record.options.peers} peers, k=${record.options.k})`,
      xLabel: 'step',
      yLabel: 'B (sum of held-out cross-entropy)',
      series: [{ name: 'B', points: evals.map((s) => [s.step, s.B!] as [number, number]) }],
    }),
  );
  const n = record.participants.length;
  write(
    'rank.svg',
    lineChart({
      title: 'Ledger rank R_j per block (eq 5)',
      xLabel: 'block',
      yLabel: 'R_j',
      series: Array.from({ length: n }, (_, j) => ({
        name: participantLabel(record, j),
        dashed: record.participants[j]!.kind !== 'honest',
        points: record.blocks.map((b) => [b.height, b.R[j]!] as [number, number]),
      })),
    }),
  );
  const last = record.blocks[record.blocks.length - 1];
  write(
    'weights.svg',
    heatmap({
      title: `Final W (block ${last?.height ?? 0}), row i = peer i's scores`,
      matrix: last?.W ?? [],
      labels: Array.from({ length: n }, (_, j) => participantLabel(record, j)),
    }),
  );
  if (record.newcomers) write('newcomers.svg', newcomerChart(record));
  return files;
}

/** --newcomers: each newcomer's R by block (dashed: noise), beside the trained peers' median. */
function newcomerChart(record: SwarmRecord): string {
  const rep = record.newcomers!;
  const trained = record.participants.filter(
    (p) => p.kind === 'honest' && !rep.newcomers.some((t) => t.index === p.index),
  );
  const medianOf = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? 0;
  return lineChart({
    title: `Newcomers joining at step ${rep.spec.atStep}: ledger R per block`,
    xLabel: 'block',
    yLabel: 'R_j',
    series: [
      {
        name: 'trained median',
        points: record.blocks.map(
          (b) => [b.height, medianOf(trained.map((p) => b.R[p.index]!))] as [number, number],
        ),
      },
      ...rep.newcomers.map((t) => ({
        name: `${t.kind} ${participantLabel(record, t.index)}`,
        dashed: t.kind === 'noise',
        points: t.blocks.map((b) => [b.height, b.rank] as [number, number]),
      })),
    ],
  });
}

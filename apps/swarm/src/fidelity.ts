/**
 * `pnpm swarm fidelity …`: a grid of seeds × swarm sizes, every run a full
 * swarm with the ablation ideal, and per configuration the mean of each
 * fidelity figure over the seeds with its 95 % interval (Student t over the
 * per-seed values). Writes DIR/fidelity.json, DIR/fidelity.svg (the means
 * with their intervals per size) and prints a table. Any swarm flag may
 * follow; --peers, --seed and --out are set per run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { PALETTE, Panel, svgDocument } from '@peerbench/mechanism/svg';
import { parseArgs, type SwarmOptions, UsageError } from './args.js';
import { writeOutputs } from './output.js';
import type { SwarmRecord } from './record.js';
import { Swarm } from './swarm.js';

/** The figures read from every run (null: undefined in that run). */
export const FIDELITY_METRICS = [
  'knownOrder',
  'knownOrder3',
  'ideal',
  'idealHonest',
  'idealOthers',
  'rows',
  'pairs',
  'bDrop',
  'ownRowShare',
  'selfDealVsTwin',
  'noiseBelowFromBlock',
] as const;
export type FidelityMetric = (typeof FIDELITY_METRICS)[number];

export interface FidelityRun {
  peers: number;
  seed: number;
  values: Record<FidelityMetric, number | null>;
  lastB: number | null;
  wallSeconds: number;
}

export interface Interval {
  mean: number;
  low: number;
  high: number;
  count: number;
}

export interface FidelityResult {
  createdAt: string;
  argv: string[];
  seeds: number[];
  sizes: number[];
  runs: FidelityRun[];
  /** Per size, per metric: mean and 95 % interval over the seeds (null: fewer than one value). */
  table: Array<{ peers: number; metrics: Record<FidelityMetric, Interval | null> }>;
}

/** Two-sided 97.5 % quantiles of Student's t for 1..30 degrees of freedom (then the normal's). */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** Mean and 95 % interval (Student t); a single value is its own interval's centre with infinite width. */
export function meanInterval(values: number[]): Interval | null {
  const v = values.filter((x) => Number.isFinite(x));
  const k = v.length;
  if (k === 0) return null;
  const mean = v.reduce((a, x) => a + x, 0) / k;
  if (k === 1) return { mean, low: Number.NEGATIVE_INFINITY, high: Number.POSITIVE_INFINITY, count: 1 };
  const sd = Math.sqrt(v.reduce((a, x) => a + (x - mean) ** 2, 0) / (k - 1));
  const t = T975[k - 2] ?? 1.96;
  const half = (t * sd) / Math.sqrt(k);
  return { mean, low: mean - half, high: mean + half, count: k };
}

/** The figures of one run. */
export function runValues(record: SwarmRecord): Record<FidelityMetric, number | null> {
  const a = record.ablation;
  const s = record.summary;
  const deal = s.selfDeal;
  return {
    knownOrder: s.knownOrder?.spearmanLast ?? null,
    knownOrder3: s.knownOrder?.spearmanLast3 ?? null,
    ideal: a?.spearman ?? null,
    idealHonest: a?.spearmanHonest ?? null,
    idealOthers: a?.spearmanOthers ?? null,
    rows: a?.meanRowSpearman ?? null,
    pairs: a?.pairSpearman ?? null,
    bDrop: s.bDrop,
    ownRowShare: s.meanOwnRowShare ?? null,
    // Self-dealer's stake gain over its honest twin's (< 1: self-dealing does not pay).
    selfDealVsTwin: deal && deal.twinStakeGain[0]! > 0 ? deal.stakeGain[0]! / deal.twinStakeGain[0]! : null,
    noiseBelowFromBlock: s.noise?.rankBelowHonestFromBlock ?? null,
  };
}

function parseList(flag: string, raw: string): number[] {
  const out: number[] = [];
  for (const part of raw.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new UsageError(`${flag}: expected numbers or ranges like 1-5,8, got '${part}'`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b - a > 1000) throw new UsageError(`${flag}: bad range '${part}'`);
    for (let v = a; v <= b; v++) out.push(v);
  }
  return out;
}

export interface FidelityPlan {
  seeds: number[];
  sizes: number[];
  out: string;
  /** Swarm options per run. */
  runs: Array<{ peers: number; seed: number; opts: SwarmOptions }>;
}

/** `fidelity --seeds 1-5 --sizes 8,16 --out DIR [swarm flags]` → one SwarmOptions per grid cell (ablation on). */
export function planFidelity(argv: readonly string[], baseDir: string): FidelityPlan {
  const rest: string[] = [];
  let seedsRaw = '1-3';
  let sizesRaw = '8';
  let outRaw = 'fidelity-out';
  for (let a = 0; a < argv.length; a++) {
    const arg = argv[a]!;
    const take = () => {
      const v = argv[++a];
      if (v === undefined) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    if (arg === '--seeds') seedsRaw = take();
    else if (arg === '--sizes') sizesRaw = take();
    else if (arg === '--out') outRaw = take();
    else if (arg === '--peers' || arg === '--seed')
      throw new UsageError(`fidelity: ${arg} is set per run (use --sizes / --seeds)`);
    else rest.push(arg);
  }
  const seeds = parseList('--seeds', seedsRaw);
  const sizes = parseList('--sizes', sizesRaw);
  const out = isAbsolute(outRaw) ? outRaw : resolve(baseDir, outRaw);
  const runs = sizes.flatMap((peers) =>
    seeds.map((seed) => {
      const o = parseArgs(
        [
          ...rest,
          '--peers',
          String(peers),
          '--seed',
          String(seed),
          '--out',
          join(out, `n${peers}-s${seed}`),
          ...(rest.includes('--ablate') ? [] : ['--ablate']),
        ],
        baseDir,
      );
      if (o === 'help') throw new UsageError('fidelity: --help is not a run');
      return { peers, seed, opts: o };
    }),
  );
  return { seeds, sizes, out, runs };
}

export function summarizeFidelity(argv: string[], plan: FidelityPlan, runs: FidelityRun[]): FidelityResult {
  return {
    createdAt: new Date().toISOString(),
    argv,
    seeds: plan.seeds,
    sizes: plan.sizes,
    runs,
    table: plan.sizes.map((peers) => {
      const mine = runs.filter((r) => r.peers === peers);
      const metrics = {} as Record<FidelityMetric, Interval | null>;
      for (const m of FIDELITY_METRICS)
        metrics[m] = meanInterval(mine.map((r) => r.values[m]).filter((v): v is number => v !== null));
      return { peers, metrics };
    }),
  };
}

const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '∞');

/** Markdown table: one row per size, mean [95 % interval] (count) per metric that has values. */
export function fidelityTable(result: FidelityResult): string[] {
  const used = FIDELITY_METRICS.filter((m) => result.table.some((row) => row.metrics[m] !== null));
  const lines = [`| peers | ${used.join(' | ')} |`, `|---|${used.map(() => '---').join('|')}|`];
  for (const row of result.table) {
    const cells = used.map((m) => {
      const c = row.metrics[m];
      return c ? `${fmt(c.mean)} [${fmt(c.low)}, ${fmt(c.high)}] (${c.count})` : '–';
    });
    lines.push(`| ${row.peers} | ${cells.join(' | ')} |`);
  }
  return lines;
}

/** The Spearman figures per size: mean (dot) and 95 % interval (bar), one colour per figure. */
export function fidelitySvg(result: FidelityResult): string {
  const shown: FidelityMetric[] = ['knownOrder', 'ideal', 'idealHonest', 'rows', 'pairs'];
  const used = shown.filter((m) => result.table.some((row) => row.metrics[m] !== null));
  const sizes = result.sizes;
  const panel = new Panel({
    x: 0,
    y: 0,
    width: 720,
    height: 420,
    xRange: { min: -0.5, max: sizes.length - 0.5 },
    yRange: { min: -1, max: 1 },
    title: 'Ranking fidelity: Spearman per configuration, mean and 95 % interval over seeds',
    subtitle: `seeds ${result.seeds.join(',')}; x: configuration index (peers ${sizes.join(', ')})`,
    xLabel: `configuration (peers: ${sizes.join(' | ')})`,
    yLabel: 'Spearman',
  });
  panel.segment(-0.5, 0, sizes.length - 0.5, 0, '#999', { 'stroke-dasharray': '4 3' });
  used.forEach((m, k) => {
    const color = PALETTE[k % PALETTE.length]!;
    const dx = (k - (used.length - 1) / 2) * 0.12;
    result.table.forEach((row, x) => {
      const c = row.metrics[m];
      if (!c) return;
      const lo = Math.max(-1, c.low);
      const hi = Math.min(1, c.high);
      panel.segment(x + dx, lo, x + dx, hi, color, { 'stroke-width': 2 });
      panel.points([x + dx], [c.mean], color, 4);
    });
  });
  panel.legend(used.map((m, k) => ({ label: m, color: PALETTE[k % PALETTE.length]! })));
  return svgDocument(720, 420, panel.parts);
}

/** Runs the grid, one swarm at a time; writes every run's swarm.json plus fidelity.json/.svg. */
export async function runFidelity(
  argv: string[],
  baseDir: string,
  log: (line: string) => void,
): Promise<{ result: FidelityResult; files: string[] }> {
  const plan = planFidelity(argv, baseDir);
  const runs: FidelityRun[] = [];
  for (const cell of plan.runs) {
    log(`fidelity: ${cell.peers} peers, seed ${cell.seed} (${runs.length + 1}/${plan.runs.length})`);
    const swarm = await Swarm.create({ ...cell.opts, quiet: true });
    try {
      const record = await swarm.run();
      writeOutputs(cell.opts.out, record);
      const values = runValues(record);
      runs.push({
        peers: cell.peers,
        seed: cell.seed,
        values,
        lastB: record.summary.lastB,
        wallSeconds: record.summary.wallSeconds,
      });
      log(
        `  known order ${values.knownOrder?.toFixed(3) ?? '–'}, ideal ${values.ideal?.toFixed(3) ?? '–'}, rows ${values.rows?.toFixed(3) ?? '–'}, B drop ${values.bDrop?.toFixed(3) ?? '–'}, ${record.summary.wallSeconds.toFixed(0)} s`,
      );
    } finally {
      await swarm.dispose();
    }
  }
  const result = summarizeFidelity(argv, plan, runs);
  mkdirSync(plan.out, { recursive: true });
  const json = join(plan.out, 'fidelity.json');
  const svg = join(plan.out, 'fidelity.svg');
  writeFileSync(
    json,
    JSON.stringify(result, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1),
  );
  writeFileSync(svg, fidelitySvg(result));
  return { result, files: [json, svg] };
}

import { mkdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { STOPPING_NORMS, type StoppingNorm } from './batch.js';
import {
  DEFAULT_SETTINGS,
  FIG5_DEFAULT_GAIN,
  FIG5_DEFAULT_PROPORTIONAL_GAIN,
  type Fig4Result,
  type ReferenceReading,
  runFig5,
  type SimulationSettings,
  type SparsityMeasure,
  WORLD_KINDS,
  type WorldKind,
} from './experiment.js';
import { fig4Svg, fig5Svg } from './plots.js';
import { defaultWorkerCount, runFig4Sweep } from './sweep.js';

/**
 * The simulator CLI (issue 3): `sim fig4 …` and `sim fig5 …`. The only part
 * of the package that does I/O. `main` takes its environment as arguments so
 * tests can run it in-process.
 */

export class CliError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'CliError';
    this.code = code;
  }
}

export interface CliIo {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  /** Directory relative --out paths are resolved against. */
  cwd: string;
}

const USAGE = `usage: pnpm sim <command> [flags]

commands:
  fig4   correlation of the competitive rank R* with the ideal rank, per alpha/tau (paper Fig 4)
         --n 16 --trials 10 --ratios 1,10,25,50 --seed 1 --out DIR [--workers cores]
         (worlds solved in parallel, all ratios of a world together; same output for any --workers)
  fig5   adaptive tau driving the weight sparsity to a target (paper Fig 5)
         --n 16 --target 1 --seed 1 --out DIR
         [--alpha 1] [--gain ${FIG5_DEFAULT_GAIN}] [--kp ${FIG5_DEFAULT_PROPORTIONAL_GAIN}] [--steps 1000*n] [--measure ratio|eq17]

model flags (both commands):
  --temperature ${DEFAULT_SETTINGS.temperature}   mask temperature T (eq 8)
  --reference ${DEFAULT_SETTINGS.reference}  F_W0 reading: full (unmasked inputs) | initial (mask at the starting W0)
  --epsilon ${DEFAULT_SETTINGS.epsilon}    stop when the projected gradient's --stop-norm is below this
  --stop-norm ${DEFAULT_SETTINGS.stoppingNorm}  entry: every |projected gradient term| | row: every row's L2 norm | rms: Frobenius norm / n
  --world ${DEFAULT_SETTINGS.world}       ${WORLD_KINDS.join(' | ')}: i.i.d. Hessians (the paper) | peers of graded quality q in [1/2, 2]
  --steps-per-peer ${DEFAULT_SETTINGS.stepsPerPeer}  step cap = this * n
  --hessian-dof ${DEFAULT_SETTINGS.hessianDofPerPeer}   Wishart degrees of freedom per peer (k = this * n)
  --quiet            no progress lines on stderr
Relative --out paths are resolved against the directory pnpm was started in.`;

type FlagKind = 'int' | 'number' | 'list' | 'string' | 'bool';

const COMMON_FLAGS: Record<string, FlagKind> = {
  n: 'int',
  seed: 'int',
  out: 'string',
  temperature: 'number',
  reference: 'string',
  epsilon: 'number',
  'steps-per-peer': 'int',
  'hessian-dof': 'number',
  'stop-norm': 'string',
  world: 'string',
  quiet: 'bool',
};
const COMMAND_FLAGS: Record<string, Record<string, FlagKind>> = {
  fig4: { ...COMMON_FLAGS, trials: 'int', ratios: 'list', workers: 'int' },
  fig5: {
    ...COMMON_FLAGS,
    target: 'number',
    alpha: 'number',
    gain: 'number',
    kp: 'number',
    steps: 'int',
    measure: 'string',
  },
};

type FlagValue = number | number[] | string | boolean;

function parseNumber(flag: string, raw: string, integer: boolean): number {
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v))
    throw new CliError('BAD_FLAG_VALUE', `--${flag} needs a number, got "${raw}"`);
  if (integer && !Number.isInteger(v))
    throw new CliError('BAD_FLAG_VALUE', `--${flag} needs an integer, got "${raw}"`);
  return v;
}

export function parseFlags(command: string, args: string[]): Map<string, FlagValue> {
  const spec = COMMAND_FLAGS[command];
  if (!spec) throw new CliError('UNKNOWN_COMMAND', `unknown command "${command}" (expected fig4 or fig5)`);
  const flags = new Map<string, FlagValue>();
  for (let k = 0; k < args.length; k++) {
    const arg = args[k]!;
    if (!arg.startsWith('--')) throw new CliError('UNEXPECTED_ARGUMENT', `unexpected argument "${arg}"`);
    let name = arg.slice(2);
    let inline: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      inline = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const kind = spec[name];
    if (!kind) throw new CliError('UNKNOWN_FLAG', `unknown flag --${name} for ${command}`);
    if (flags.has(name)) throw new CliError('DUPLICATE_FLAG', `--${name} given twice`);
    if (kind === 'bool') {
      if (inline !== undefined) throw new CliError('BAD_FLAG_VALUE', `--${name} takes no value`);
      flags.set(name, true);
      continue;
    }
    let raw = inline;
    if (raw === undefined) {
      const next = args[k + 1];
      if (next === undefined || (next.startsWith('--') && !/^--?\d/.test(next))) {
        throw new CliError('MISSING_VALUE', `--${name} needs a value`);
      }
      raw = next;
      k++;
    }
    if (kind === 'int' || kind === 'number') flags.set(name, parseNumber(name, raw, kind === 'int'));
    else if (kind === 'list') {
      const parts = raw.split(',').map((s) => s.trim());
      if (parts.some((p) => p === ''))
        throw new CliError(
          'BAD_FLAG_VALUE',
          `--${name} needs a comma-separated list of numbers, got "${raw}"`,
        );
      flags.set(
        name,
        parts.map((p) => parseNumber(name, p, false)),
      );
    } else flags.set(name, raw);
  }
  return flags;
}

function num(flags: Map<string, FlagValue>, name: string, fallback: number): number {
  const v = flags.get(name);
  return typeof v === 'number' ? v : fallback;
}

function settingsFrom(flags: Map<string, FlagValue>): SimulationSettings {
  const reference = (flags.get('reference') as string | undefined) ?? DEFAULT_SETTINGS.reference;
  if (reference !== 'full' && reference !== 'initial') {
    throw new CliError('BAD_FLAG_VALUE', `--reference must be "full" or "initial", got "${reference}"`);
  }
  const stoppingNorm = (flags.get('stop-norm') as string | undefined) ?? DEFAULT_SETTINGS.stoppingNorm;
  if (!(STOPPING_NORMS as readonly string[]).includes(stoppingNorm)) {
    throw new CliError(
      'BAD_FLAG_VALUE',
      `--stop-norm must be one of ${STOPPING_NORMS.join(', ')}, got "${stoppingNorm}"`,
    );
  }
  const world = (flags.get('world') as string | undefined) ?? DEFAULT_SETTINGS.world;
  if (!(WORLD_KINDS as readonly string[]).includes(world)) {
    throw new CliError('BAD_FLAG_VALUE', `--world must be one of ${WORLD_KINDS.join(', ')}, got "${world}"`);
  }
  const settings: SimulationSettings = {
    temperature: num(flags, 'temperature', DEFAULT_SETTINGS.temperature),
    reference: reference as ReferenceReading,
    lambda: DEFAULT_SETTINGS.lambda,
    epsilon: num(flags, 'epsilon', DEFAULT_SETTINGS.epsilon),
    stoppingNorm: stoppingNorm as StoppingNorm,
    stepsPerPeer: num(flags, 'steps-per-peer', DEFAULT_SETTINGS.stepsPerPeer),
    hessianDofPerPeer: num(flags, 'hessian-dof', DEFAULT_SETTINGS.hessianDofPerPeer),
    world: world as WorldKind,
  };
  if (!(settings.temperature > 0)) throw new CliError('BAD_FLAG_VALUE', '--temperature must be > 0');
  if (!(settings.epsilon >= 0)) throw new CliError('BAD_FLAG_VALUE', '--epsilon must be >= 0');
  if (!(settings.stepsPerPeer >= 1)) throw new CliError('BAD_FLAG_VALUE', '--steps-per-peer must be >= 1');
  if (!(settings.hessianDofPerPeer > 0)) throw new CliError('BAD_FLAG_VALUE', '--hessian-dof must be > 0');
  return settings;
}

function checkN(n: number): void {
  if (n < 2) throw new CliError('BAD_FLAG_VALUE', `--n must be at least 2 (a network needs peers), got ${n}`);
  if (n > 512)
    throw new CliError('BAD_FLAG_VALUE', `--n must be at most 512 (the solver is O(n^3) per step), got ${n}`);
}

function outDir(flags: Map<string, FlagValue>, io: CliIo): string {
  const raw = (flags.get('out') as string | undefined) ?? 'sim-results';
  const dir = isAbsolute(raw) ? raw : resolve(io.cwd, raw);
  mkdirSync(dir, { recursive: true });
  return dir;
}

const pad = (s: string, w: number) => s.padStart(w);
const f = (v: number | null, digits = 3) => (v === null ? 'n/a' : v.toFixed(digits));

export function fig4Table(result: Fig4Result): string[] {
  const lines = [
    `${pad('alpha/tau', 9)} ${pad('pearson', 15)} ${pad('spearman', 15)} ${pad('coupled*', 15)} ${pad('W=I', 5)} ${pad('converged', 9)} ${pad('steps', 8)} ${pad('sparsity', 8)}`,
  ];
  for (const r of result.ratios) {
    lines.push(
      `${pad(String(r.alphaOverTau), 9)} ${pad(`${f(r.pearson.mean)} ± ${f(r.pearson.std)}`, 15)} ${pad(`${f(r.spearman.mean)} ± ${f(r.spearman.std)}`, 15)} ${pad(`${f(r.pearsonCoupled.mean)} ± ${f(r.pearsonCoupled.std)}`, 15)} ${pad(r.identityFraction.toFixed(2), 5)} ${pad(r.convergedFraction.toFixed(2), 9)} ${pad(r.meanSteps.toFixed(0), 8)} ${pad(r.meanSparsity.toFixed(3), 8)}`,
    );
  }
  return lines;
}

async function runFig4Command(flags: Map<string, FlagValue>, io: CliIo): Promise<void> {
  const n = num(flags, 'n', 16);
  checkN(n);
  const trials = num(flags, 'trials', 10);
  if (trials < 1) throw new CliError('BAD_FLAG_VALUE', `--trials must be at least 1, got ${trials}`);
  const ratios = (flags.get('ratios') as number[] | undefined) ?? [1, 10, 25, 50];
  for (const r of ratios) {
    if (r < 0)
      throw new CliError(
        'BAD_FLAG_VALUE',
        `--ratios must be >= 0 (alpha/tau is a ratio of two positive rates), got ${r}`,
      );
  }
  const seed = num(flags, 'seed', 1);
  const workers = num(flags, 'workers', defaultWorkerCount());
  if (workers < 0) throw new CliError('BAD_FLAG_VALUE', `--workers must be >= 0, got ${workers}`);
  const settings = settingsFrom(flags);
  const dir = outDir(flags, io);
  const quiet = flags.get('quiet') === true;
  const started = performance.now();
  let done = 0;
  const total = trials * ratios.length;
  const result = await runFig4Sweep({
    n,
    trials,
    ratios,
    seed,
    settings,
    workers,
    onLaneDone: (ratio, t, r) => {
      done++;
      if (quiet) return;
      io.stderr(
        `fig4 alpha/tau=${ratio} trial ${t + 1}/${trials}: ${r.steps} steps${r.converged ? '' : ' (cap)'}, pearson ${f(r.pearson)}, W=I ${r.identity} [${done}/${total}, ${((performance.now() - started) / 1000).toFixed(1)} s]`,
      );
    },
  });
  const elapsedMs = performance.now() - started;
  // No timing in the files: the same command and seed write the same bytes
  // whatever the machine or --workers.
  const base = settings.world === 'iid' ? 'fig4' : `fig4-${settings.world}`;
  writeFileSync(join(dir, `${base}.json`), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(dir, `${base}.svg`), fig4Svg(result));
  for (const line of fig4Table(result)) io.stdout(line);
  io.stdout('coupled* = diagnostic Pearson(R*, coupled rank with off-diagonal curvature), not in the paper');
  io.stdout(
    `wrote ${join(dir, `${base}.json`)} and ${join(dir, `${base}.svg`)} in ${(elapsedMs / 1000).toFixed(1)} s (${workers} workers)`,
  );
}

function runFig5Command(flags: Map<string, FlagValue>, io: CliIo): void {
  const n = num(flags, 'n', 16);
  checkN(n);
  const target = num(flags, 'target', 1);
  if (!(target > 0)) throw new CliError('BAD_FLAG_VALUE', `--target must be > 0, got ${target}`);
  const measure = (flags.get('measure') as string | undefined) ?? 'ratio';
  if (measure !== 'ratio' && measure !== 'eq17') {
    throw new CliError('BAD_FLAG_VALUE', `--measure must be "ratio" or "eq17", got "${measure}"`);
  }
  if (measure === 'eq17' && target > 1)
    throw new CliError('BAD_FLAG_VALUE', `an eq17 sparsity target must be <= 1, got ${target}`);
  const alpha = num(flags, 'alpha', 1);
  if (!(alpha >= 0)) throw new CliError('BAD_FLAG_VALUE', `--alpha must be >= 0, got ${alpha}`);
  const gain = num(flags, 'gain', FIG5_DEFAULT_GAIN);
  if (!(gain > 0)) throw new CliError('BAD_FLAG_VALUE', `--gain must be > 0, got ${gain}`);
  const kp = num(flags, 'kp', FIG5_DEFAULT_PROPORTIONAL_GAIN);
  if (!(kp >= 0)) throw new CliError('BAD_FLAG_VALUE', `--kp must be >= 0, got ${kp}`);
  const settings = settingsFrom(flags);
  const steps = num(flags, 'steps', settings.stepsPerPeer * n);
  if (steps < 1) throw new CliError('BAD_FLAG_VALUE', `--steps must be >= 1, got ${steps}`);
  const seed = num(flags, 'seed', 1);
  const dir = outDir(flags, io);
  const quiet = flags.get('quiet') === true;
  const started = performance.now();
  const result = runFig5({
    n,
    seed,
    target,
    alpha,
    gain,
    proportionalGain: kp,
    steps,
    measure: measure as SparsityMeasure,
    settings,
    onProgress: (step, tau, measured) => {
      if (quiet || step % 4000 !== 0) return;
      io.stderr(
        `fig5 step ${step}/${steps}: tau ${tau.toFixed(4)}, sparsity ${measured.toFixed(3)} (target ${target})`,
      );
    },
  });
  const elapsedMs = performance.now() - started;
  writeFileSync(
    join(dir, 'fig5.json'),
    `${JSON.stringify({ ...result, elapsedMs: Math.round(elapsedMs) }, null, 2)}\n`,
  );
  writeFileSync(join(dir, 'fig5.svg'), fig5Svg(result));
  const last = result.points[result.points.length - 1]!;
  io.stdout(
    `final: tau ${last.tau.toFixed(4)}, sparsity ${last.measured.toFixed(3)} (target ${target}, ${measure}), eq17 sparsity ${last.sparsity.toFixed(3)}, pearson ${f(last.pearson)}`,
  );
  io.stdout(
    `wrote ${join(dir, 'fig5.json')} and ${join(dir, 'fig5.svg')} in ${(elapsedMs / 1000).toFixed(1)} s`,
  );
}

/** Runs the CLI; returns the process exit code (0 ok, 1 failure, 2 usage error). */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    (command === undefined ? io.stderr : io.stdout)(USAGE);
    return command === undefined ? 2 : 0;
  }
  try {
    const flags = parseFlags(command, rest);
    if (command === 'fig4') await runFig4Command(flags, io);
    else runFig5Command(flags, io);
    return 0;
  } catch (err) {
    if (err instanceof CliError) {
      io.stderr(`error [${err.code}]: ${err.message}`);
      io.stderr('run "pnpm sim help" for usage');
      return 2;
    }
    io.stderr(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  }
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (invokedDirectly) {
  // pnpm --filter runs scripts inside the package; INIT_CWD is where the user typed the command.
  const cwd = process.env.INIT_CWD ?? process.cwd();
  // pnpm forwards a literal "--" separator in some setups; it carries no meaning here.
  const args = process.argv.slice(2).filter((a, k) => !(k === 0 && a === '--'));
  void main(args, {
    stdout: (l) => process.stdout.write(`${l}\n`),
    stderr: (l) => process.stderr.write(`${l}\n`),
    cwd,
  }).then((code) => {
    process.exitCode = code;
  });
}

/**
 * `pnpm swarm …`: runs the swarm, prints progress to stderr, writes DIR/swarm.json
 * and the plots. Exit codes: 0 done (also after Ctrl-C, with what was measured),
 * 1 runtime failure, 2 bad flags.
 */
import events from 'node:events';
import { join } from 'node:path';
import { MAX_PEERS, parseArgs, USAGE, UsageError } from './args.js';
import { describeTrial, initBackend } from './backend.js';
import { parseChainArgs, runChainExperiment } from './chain.js';
import { fidelityTable, runFidelity } from './fidelity.js';
import { writeOutputs } from './output.js';
import { Swarm } from './swarm.js';

/** `pnpm swarm fidelity …`: the seeds × sizes grid (fidelity.ts); prints the table, writes JSON and SVG. */
async function fidelityMain(argv: string[], baseDir: string): Promise<number> {
  const quiet = argv.includes('--quiet');
  const log = (line: string) => {
    if (!quiet) process.stderr.write(`[swarm] ${line}\n`);
  };
  events.defaultMaxListeners = Math.max(events.defaultMaxListeners, 4 * MAX_PEERS);
  await initBackend();
  let out: Awaited<ReturnType<typeof runFidelity>>;
  try {
    out = await runFidelity(argv, baseDir, log);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`swarm fidelity: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  process.stdout.write(`${fidelityTable(out.result).join('\n')}\n${out.files.join('\n')}\n`);
  return 0;
}

/** `pnpm swarm chain …`: the A – B – C chain at depth 0 and 1 (chain.ts); writes DIR/chain.json. */
async function chainMain(argv: string[], baseDir: string): Promise<number> {
  let opts: ReturnType<typeof parseChainArgs>;
  try {
    opts = parseChainArgs(argv, baseDir);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`swarm chain: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  await initBackend();
  const result = await runChainExperiment(opts, (line) => {
    if (!opts.quiet) process.stderr.write(`[chain] ${line}\n`);
  });
  process.stdout.write(`${JSON.stringify(result.summary, null, 2)}\n${join(opts.out, 'chain.json')}\n`);
  return 0;
}

export async function main(argv: string[], baseDir: string): Promise<number> {
  if (argv[0] === 'fidelity') return fidelityMain(argv.slice(1), baseDir);
  if (argv[0] === 'chain') return chainMain(argv.slice(1), baseDir);
  let opts: ReturnType<typeof parseArgs>;
  try {
    opts = parseArgs(argv, baseDir);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`swarm: ${err.message}\n(run with --help for every flag)\n`);
      return 2;
    }
    throw err;
  }
  if (opts === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  // One Peer step sends up to n−1 forwards that share one AbortSignal, each adding
  // listeners: at 8+ peers Node's default limit of 10 would warn on every step.
  events.defaultMaxListeners = Math.max(events.defaultMaxListeners, 4 * MAX_PEERS);
  const backend = await initBackend();
  const log = (line: string) => {
    if (!opts.quiet) process.stderr.write(`[swarm] ${line}\n`);
  };
  log(
    `${opts.peers} peers + ${opts.adversaries.map((a) => `${a.count} ${a.kind}`).join(', ') || 'no adversaries'}, mode ${opts.mode}, k=${opts.k}, ${opts.steps} steps, tfjs ${backend.chosen} (${describeTrial(backend)}), transport ${opts.transport}${opts.server ? ` via ${opts.server}` : ', embedded ledger'}`,
  );
  const abort = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      log('interrupted: finishing this step and writing what was measured (Ctrl-C again to quit now)');
      abort.abort();
    } else process.exit(130);
  };
  process.on('SIGINT', onSigint);
  let swarm: Swarm | null = null;
  try {
    swarm = await Swarm.create(opts, { progress: log });
    const record = await swarm.run(abort.signal);
    const files = writeOutputs(opts.out, { ...record, backend });
    const s = record.summary;
    log(
      `done: ${s.stepsDone} steps, ${s.blocks} blocks, B ${s.firstB?.toFixed(3)} → ${s.lastB?.toFixed(3)}, ${s.stepsPerSecond.toFixed(2)} steps/s${record.ablation ? `, Spearman(R, ideal) ${record.ablation.spearman?.toFixed(3) ?? 'undefined'}` : ''}`,
    );
    process.stdout.write(`${files[0]}\n`);
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
    await swarm?.dispose();
  }
}

const invokedDirectly = process.argv[1] !== undefined && /cli\.[tj]s$/.test(process.argv[1]);
if (invokedDirectly) {
  main(process.argv.slice(2), process.env.INIT_CWD ?? process.cwd()).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`swarm: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}

/**
 * What every benchmark script of the repository starts with (Node only, so it
 * is a subpath export, `@peerbench/protocol/bench-entry`, never part of the
 * browser-safe index): `--help` prints the usage and exits before anything
 * runs (the README entry-point test asks every documented bench), one log
 * prefix, and one place for the JSON results
 * ($PEERBENCH_BENCH_DIR, default <repo>/bench-results).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchEntryOptions {
  /** The documented command, e.g. `pnpm --filter @peerbench/ledger bench`. */
  command: string;
  /** One line: what it measures, side by side with what, and the files it writes. */
  measures: string;
  /** The prefix of its log lines on stderr, e.g. `ledger bench`. */
  tag: string;
  /**
   * Whatever happens, the process exits with code 2 after this long (an
   * unref'd timer, so it never keeps a finished run alive).
   */
  hardTimeoutMs?: number;
}

export interface BenchEntry {
  /** Where results go: $PEERBENCH_BENCH_DIR, default <repo>/bench-results. */
  readonly outDir: string;
  /** A line on stderr with the bench's tag (stdout stays free for data). */
  log(message: string): void;
  /** Writes `result` as indented JSON to outDir/fileName (creating outDir), logs and returns the path. */
  writeResult(fileName: string, result: unknown): string;
}

export const BENCH_RESULTS_DIR_DEFAULT = fileURLToPath(new URL('../../../bench-results', import.meta.url));

/** The usage text `--help` prints: the command, then what it measures. */
export function benchUsage(options: Pick<BenchEntryOptions, 'command' | 'measures'>): string {
  return `usage: ${options.command}\n  ${options.measures}`;
}

/**
 * Call first, at the top level of a bench script: with `--help` in argv it
 * prints the usage and exits 0 here.
 */
export function benchEntry(options: BenchEntryOptions): BenchEntry {
  if (process.argv.includes('--help')) {
    console.log(benchUsage(options));
    process.exit(0);
  }
  const outDir = process.env.PEERBENCH_BENCH_DIR ?? BENCH_RESULTS_DIR_DEFAULT;
  const log = (message: string): void => {
    process.stderr.write(`[${options.tag}] ${message}\n`);
  };
  if (options.hardTimeoutMs !== undefined) {
    const hardTimeoutMs = options.hardTimeoutMs;
    setTimeout(() => {
      log(`hard timeout of ${hardTimeoutMs} ms reached; aborting`);
      process.exit(2);
    }, hardTimeoutMs).unref();
  }
  return {
    outDir,
    log,
    writeResult(fileName, result) {
      mkdirSync(outDir, { recursive: true });
      const path = join(outDir, fileName);
      writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
      log(`wrote ${path}`);
      return path;
    },
  };
}

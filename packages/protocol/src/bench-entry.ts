/**
 * What every benchmark script of the repository starts with (Node only, so it
 * is a subpath export, `@peerbench/protocol/bench-entry`, never part of the
 * browser-safe index): `--help` prints the usage and exits before anything
 * runs (the README entry-point test asks every documented bench), one log
 * prefix, and one place for the JSON results
 * ($PEERBENCH_BENCH_DIR, default <repo>/bench-results).
 *
 * The usage is not written a second time: the command is the package.json
 * script that runs the file (`pnpm --filter <package> <script>`), and the
 * description is the file's leading doc comment, so neither can drift from
 * what runs.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchEntryOptions {
  /**
   * Whatever happens, the process exits with code 2 after this long (an
   * unref'd timer, so it never keeps a finished run alive).
   */
  hardTimeoutMs?: number;
}

export interface BenchEntry {
  /** Where results go: $PEERBENCH_BENCH_DIR, default <repo>/bench-results. */
  readonly outDir: string;
  /** A line on stderr prefixed with the bench's command name (stdout stays free for data). */
  log(message: string): void;
  /** Writes `result` as indented JSON to outDir/fileName (creating outDir), logs and returns the path. */
  writeResult(fileName: string, result: unknown): string;
}

export const BENCH_RESULTS_DIR_DEFAULT = fileURLToPath(new URL('../../../bench-results', import.meta.url));

interface BenchScript {
  /** How the README documents it: `pnpm --filter <package> <script>`, else `npx tsx <path>`. */
  command: string;
  /** `<package without scope> <script>`, else the file name: the log prefix. */
  tag: string;
}

/** The package.json script that runs `file` (`tsx <path>`, possibly one of several joined by &&). */
function benchScriptOf(file: string): BenchScript {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const pkgPath = join(dir, 'package.json');
    if (!existsSync(pkgPath)) continue;
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as {
      name?: string;
      scripts?: Record<string, string>;
    };
    const path = relative(dir, file);
    for (const [script, line] of Object.entries(pkg.scripts ?? {}))
      if (line.split('&&').some((part) => part.trim() === `tsx ${path}`))
        return {
          command: `pnpm --filter ${pkg.name} ${script}`,
          tag: `${pkg.name?.replace(/^@[^/]+\//, '')} ${script}`,
        };
    return { command: `npx tsx ${path}`, tag: path };
  }
  return { command: `npx tsx ${file}`, tag: file };
}

/** The text of the file's first doc comment, without its `*` margins. */
function leadingDocComment(file: string): string {
  const m = /\/\*\*([\s\S]*?)\*\//.exec(readFileSync(file, 'utf8'));
  if (!m?.[1]) return '';
  return m[1]
    .split('\n')
    .map((line) => line.replace(/^\s*\* ?/, ''))
    .join('\n')
    .trim();
}

/** What `--help` prints: `usage: <command>`, then the file's doc comment, indented. */
export function benchUsage(moduleUrl: string): string {
  const file = fileURLToPath(moduleUrl);
  const doc = leadingDocComment(file)
    .split('\n')
    .map((line) => (line ? `  ${line}` : ''))
    .join('\n');
  return `usage: ${benchScriptOf(file).command}\n${doc}`;
}

/**
 * Call first, at the top level of a bench script, with its `import.meta.url`:
 * with `--help` in argv it prints the usage and exits 0 here.
 */
export function benchEntry(moduleUrl: string, options: BenchEntryOptions = {}): BenchEntry {
  if (process.argv.includes('--help')) {
    console.log(benchUsage(moduleUrl));
    process.exit(0);
  }
  const { tag } = benchScriptOf(fileURLToPath(moduleUrl));
  const outDir = process.env.PEERBENCH_BENCH_DIR ?? BENCH_RESULTS_DIR_DEFAULT;
  const log = (message: string): void => {
    process.stderr.write(`[${tag}] ${message}\n`);
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

/**
 * Running commands, in the root namespace or inside a lab namespace. Every
 * command is an argv array (never a shell string), so names and addresses
 * cannot inject anything.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { NetlabError } from './errors.js';

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Bound on any single setup command (ip, nft, ss); they take milliseconds. */
export const COMMAND_TIMEOUT_MS = 10_000;

/** Runs argv and resolves with its output; rejects with `command-failed` on a non-zero exit. */
export function run(argv: readonly string[], input?: string): Promise<RunResult> {
  const [file, ...args] = argv;
  if (!file) throw new NetlabError('invalid-argument', 'empty command');
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: COMMAND_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          reject(
            new NetlabError(
              'command-failed',
              `${argv.join(' ')} failed: ${String(stderr).trim() || err.message}`,
            ),
          );
        } else resolve({ stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** argv prefixed so that it runs inside namespace `ns`. */
export function inNs(ns: string, argv: readonly string[]): string[] {
  return ['ip', 'netns', 'exec', ns, ...argv];
}

/** Synchronous, errors ignored: for cleanup paths (process exit handlers) where nothing async runs. */
export function runSyncQuiet(argv: readonly string[]): string {
  const [file, ...args] = argv;
  if (!file) return '';
  try {
    return execFileSync(file, args, {
      timeout: COMMAND_TIMEOUT_MS,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).toString();
  } catch {
    return '';
  }
}

/** True when argv runs and exits 0 (used to probe for tools). */
export function succeeds(argv: readonly string[]): boolean {
  const [file, ...args] = argv;
  if (!file) return false;
  const r = spawnSync(file, args, { timeout: COMMAND_TIMEOUT_MS, stdio: 'ignore' });
  return r.status === 0;
}

/**
 * A long-running process of the lab (coturn, the delay forwarder, a wrtc
 * agent): output kept in a bounded buffer to wait on, stop = SIGTERM then
 * SIGKILL after a bound.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { NetlabError } from './errors.js';

/** Output kept per process for waitForOutput and failure messages. */
export const MAX_KEPT_OUTPUT_CHARS = 256 * 1024;
/** How long stop() waits after SIGTERM before SIGKILL. */
export const DEFAULT_STOP_GRACE_MS = 5_000;

export interface SpawnOptions {
  /** Opens a Node IPC channel (fd 3) to the child; it survives `ip netns exec`, which only execs. */
  ipc?: boolean;
  /** Keep stdin open as a pipe (otherwise /dev/null). */
  stdin?: boolean;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class LabProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<ExitStatus>;
  private output = '';
  private exitStatus: ExitStatus | null = null;
  private listeners = new Set<() => void>();

  constructor(
    readonly argv: readonly string[],
    opts: SpawnOptions = {},
  ) {
    const [file, ...args] = argv;
    if (!file) throw new NetlabError('invalid-argument', 'empty command');
    this.child = spawn(file, args, {
      stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe', ...(opts.ipc ? (['ipc'] as const) : [])],
      cwd: opts.cwd,
      env: opts.env ?? process.env,
    });
    const append = (chunk: Buffer) => {
      this.output += chunk.toString();
      if (this.output.length > MAX_KEPT_OUTPUT_CHARS)
        this.output = this.output.slice(-MAX_KEPT_OUTPUT_CHARS / 2);
      for (const l of this.listeners) l();
    };
    this.child.stdout?.on('data', append);
    this.child.stderr?.on('data', append);
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exitStatus = { code, signal };
        for (const l of this.listeners) l();
        resolve(this.exitStatus);
      });
      this.child.on('error', (err) => {
        this.output += `\nspawn error: ${err.message}`;
        this.exitStatus = { code: null, signal: null };
        resolve(this.exitStatus);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitStatus === null;
  }

  /** Everything printed so far (stdout and stderr interleaved, bounded). */
  get log(): string {
    return this.output;
  }

  /** Resolves when the output matches `pattern`; rejects on exit or after timeoutMs. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.output.match(pattern);
        if (m) return done(() => resolve(m));
        if (this.exitStatus) {
          return done(() =>
            reject(
              new NetlabError(
                'command-failed',
                `${this.argv.join(' ')} exited before ${pattern}: ${this.tail()}`,
              ),
            ),
          );
        }
      };
      const timer = setTimeout(
        () =>
          done(() =>
            reject(new NetlabError('timeout', `no ${pattern} within ${timeoutMs} ms: ${this.tail()}`)),
          ),
        timeoutMs,
      );
      const done = (f: () => void) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        f();
      };
      this.listeners.add(check);
      check();
    });
  }

  tail(chars = 2000): string {
    return this.output.slice(-chars);
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) {
      try {
        this.child.kill(signal);
      } catch {}
    }
  }

  /** SIGTERM, then SIGKILL when it has not exited after graceMs. */
  async stop(graceMs: number = DEFAULT_STOP_GRACE_MS): Promise<ExitStatus> {
    if (!this.running) return this.exitStatus ?? (await this.exited);
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * The benchmarks' server under test, in a child process of its own
 * (server-child.ts), and what /proc and /metrics say about it: resident
 * memory and CPU time. Shared by load.ts and abuse.ts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { SignalingServerOptions } from '../src/index.js';

const here = fileURLToPath(new URL('.', import.meta.url));

export interface ServerChild {
  url: string;
  httpUrl: string;
  pid: number;
  port: number;
  stop(): Promise<void>;
}

/** Every child a benchmark started: killed when it exits, however it exits (an OOM once left one behind). */
export const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** What makes a server child a clustered instance (server-child.ts opens a NatsRoomBridge). */
export interface ClusterInstance {
  /** NATS client URLs, the first one tried first. */
  natsUrls: readonly string[];
  instanceId: string;
}

/**
 * Starts server-child.ts. `options` (JSON in BENCH_SERVER_OPTIONS) replace
 * the child's lifted load-test defaults; `stop()` sends SIGTERM, then SIGKILL
 * after `killAfterMs`. With `cluster`, its rooms span instances over NATS.
 */
export async function startServerChild(
  options?: SignalingServerOptions,
  killAfterMs = 10_000,
  cluster?: ClusterInstance,
): Promise<ServerChild> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (options) env.BENCH_SERVER_OPTIONS = JSON.stringify(options);
  if (cluster) {
    env.BENCH_NATS_URL = cluster.natsUrls.join(',');
    env.BENCH_INSTANCE_ID = cluster.instanceId;
  }
  // BENCH_SERVER_NODE_ARGS, e.g. "--cpu-prof", to profile the server under load.
  const extra = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child: ChildProcess = spawn(
    process.execPath,
    [...extra, '--import', 'tsx', join(here, 'server-child.ts')],
    {
      cwd: join(here, '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
      env,
    },
  );
  children.add(child);
  child.once('exit', () => children.delete(child));
  // The server's first JSON line carries its URLs; anything else it prints
  // (e.g. --trace-gc) is forwarded to stderr so its pipe never fills up.
  const info = await new Promise<{ url: string; httpUrl: string; pid: number }>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    let found = false;
    rl.on('line', (line) => {
      if (!found && line.startsWith('{"url"')) {
        found = true;
        resolve(JSON.parse(line));
      } else process.stderr.write(`${line}\n`);
    });
    child.once('exit', (code) => reject(new Error(`server exited early (${code})`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    ...info,
    port: Number(new URL(info.httpUrl).port),
    stop: async () => {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function serverRssBytes(httpUrl: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const m = /^process_resident_memory_bytes (\d+)$/m.exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

export function procStatusKiB(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

const CLOCK_TICKS_PER_S = 100;

/** CPU time (user + system) a process has used, from /proc; NaN where unavailable. */
function procCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / CLOCK_TICKS_PER_S;
  } catch {
    return Number.NaN;
  }
}

/** Starts a CPU clock on the server `pid` and on this process; the returned function reads both. */
export function cpuMsOf(pid: number) {
  const server0 = procCpuMs(pid);
  const self0 = process.cpuUsage();
  return () => {
    const self = process.cpuUsage(self0);
    return { serverCpuMs: procCpuMs(pid) - server0, loadGeneratorCpuMs: (self.user + self.system) / 1000 };
  };
}

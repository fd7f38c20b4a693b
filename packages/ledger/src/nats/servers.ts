/**
 * Real nats-server processes on loopback, for tests, benches and local
 * development (Node only): one JetStream server, or a JetStream cluster of N
 * nodes routed to each other, each on free ports with its own temporary
 * store directory. Everything started here is stopped and its directory
 * removed by stop(), and — as a last resort when a test runner dies between
 * start and stop — by a process 'exit' hook that SIGKILLs the children.
 *
 * Needs Debian's `nats-server` (2.9+) on PATH, or NATS_SERVER_BIN.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { cleanUpOnExit, pidAlive } from '@peerbench/protocol/exit-cleanup';

export const DEFAULT_NATS_READY_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 5_000;
const LOG_TAIL_LINES = 40;

export class NatsServerError extends Error {
  override readonly name = 'NatsServerError';
  constructor(
    readonly code: 'nats-server-missing' | 'nats-server-exited' | 'nats-server-timeout',
    message: string,
  ) {
    super(message);
  }
}

/** The nats-server binary: NATS_SERVER_BIN, else `nats-server` on PATH (Debian puts it in /usr/sbin). */
export function natsServerBinary(): string | undefined {
  const fromEnv = process.env.NATS_SERVER_BIN;
  if (fromEnv) return fromEnv;
  for (const candidate of ['nats-server', '/usr/sbin/nats-server', '/usr/bin/nats-server']) {
    const r = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return candidate;
  }
  return undefined;
}

/** A port the kernel just handed out on 127.0.0.1 (free at the time of the call). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Removes what an earlier run left behind when it was SIGKILLed (its exit
 * hook never ran, e.g. a test worker killed on a timeout): for every
 * `peerbench-nats-<pid>-*` store whose owner pid is gone, the nats-server
 * processes serving from it (found in /proc) and the directory itself.
 */
function sweepStaleNats(): void {
  let entries: string[];
  try {
    entries = readdirSync(tmpdir());
  } catch {
    return;
  }
  const stale = entries
    .map((name) => ({ name, owner: /^peerbench-nats-(\d+)-/.exec(name)?.[1] }))
    .filter((e) => e.owner !== undefined && !pidAlive(Number(e.owner)))
    .map((e) => join(tmpdir(), e.name));
  if (stale.length === 0) return;
  let procs: string[] = [];
  try {
    procs = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    // no /proc: only the directories are removed
  }
  for (const pid of procs) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes('nats-server') && stale.some((dir) => cmd.includes(dir)))
        process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  for (const dir of stale) rmSync(dir, { recursive: true, force: true });
}

export interface NatsNodeSpec {
  name: string;
  clientPort: number;
  storeDir: string;
  cluster?: { name: string; port: number; routes: number[] };
}

/** One running nats-server. */
export class NatsServerProcess {
  readonly url: string;
  private readonly child: ChildProcess;
  private readonly logTail: string[] = [];
  private readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  constructor(
    readonly spec: NatsNodeSpec,
    binary: string,
  ) {
    this.url = `nats://127.0.0.1:${spec.clientPort}`;
    const args = [
      '-a',
      '127.0.0.1',
      '-p',
      String(spec.clientPort),
      '-n',
      spec.name,
      '-js',
      '-sd',
      spec.storeDir,
    ];
    if (spec.cluster) {
      args.push('--cluster_name', spec.cluster.name, '--cluster', `nats://127.0.0.1:${spec.cluster.port}`);
      const routes = spec.cluster.routes.map((p) => `nats://127.0.0.1:${p}`).join(',');
      if (routes) args.push('--routes', routes);
    }
    this.child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const forgetCleanup = cleanUpOnExit(() => this.child.kill('SIGKILL'));
    let partial = '';
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        this.logTail.push(line);
        if (this.logTail.length > LOG_TAIL_LINES) this.logTail.shift();
      }
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code) => {
        this.exitCode = code;
        forgetCleanup();
        resolve(code);
      });
      this.child.once('error', () => {
        this.exitCode = -1;
        forgetCleanup();
        resolve(-1);
      });
    });
  }

  get name(): string {
    return this.spec.name;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** The last lines nats-server wrote (for failure messages). */
  log(): string {
    return this.logTail.join('\n');
  }

  /** Resolves when the server logged "Server is ready"; rejects if it exits first or after timeoutMs. */
  async ready(timeoutMs = DEFAULT_NATS_READY_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.logTail.some((l) => l.includes('Server is ready'))) {
      if (!this.running)
        throw new NatsServerError(
          'nats-server-exited',
          `${this.name} exited (${this.exitCode}):\n${this.log()}`,
        );
      if (Date.now() > deadline)
        throw new NatsServerError(
          'nats-server-timeout',
          `${this.name} not ready in ${timeoutMs} ms:\n${this.log()}`,
        );
      await Promise.race([this.exited, new Promise((r) => setTimeout(r, 20))]);
    }
  }

  /** kill -9: the node vanishes without a goodbye (its store dir stays until stop()). */
  async kill9(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, SIGKILL after a grace period; idempotent. Does not remove the store dir. */
  async terminate(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }
}

export interface NatsCluster {
  readonly nodes: readonly NatsServerProcess[];
  /** Client URLs of every node (pass all of them to connect: the client fails over). */
  readonly urls: string[];
  /** Stops every node and removes every store dir. Idempotent; call it in afterAll/finally. */
  stop(): Promise<void>;
}

export interface StartNatsOptions {
  /** Nodes: 1 = a single JetStream server, ≥ 2 = a routed JetStream cluster (use 3 for R3 streams). */
  size?: number;
  clusterName?: string;
  readyTimeoutMs?: number;
}

/**
 * Starts `size` nats-servers (default 1) and waits until each logged ready and
 * the JetStream API answers (in a cluster: a metadata leader was elected).
 * On any failure everything started is stopped and removed before it throws.
 */
export async function startNats(options: StartNatsOptions = {}): Promise<NatsCluster> {
  const binary = natsServerBinary();
  if (!binary)
    throw new NatsServerError(
      'nats-server-missing',
      'nats-server not found: run scripts/setup.sh as root (apt-get install -y nats-server) or set NATS_SERVER_BIN',
    );
  const size = Math.max(1, Math.floor(options.size ?? 1));
  const timeoutMs = options.readyTimeoutMs ?? DEFAULT_NATS_READY_TIMEOUT_MS;
  sweepStaleNats();
  const root = mkdtempSync(join(tmpdir(), `peerbench-nats-${process.pid}-`));
  const forgetRoot = cleanUpOnExit(() => rmSync(root, { recursive: true, force: true }));
  const nodes: NatsServerProcess[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(nodes.map((n) => n.terminate()));
    rmSync(root, { recursive: true, force: true });
    forgetRoot();
  };
  try {
    const clientPorts: number[] = [];
    const clusterPorts: number[] = [];
    // Ask for all ports first so two nodes never get the same one.
    const seen = new Set<number>();
    while (clientPorts.length + clusterPorts.length < (size > 1 ? 2 * size : size)) {
      const p = await freePort();
      if (seen.has(p)) continue;
      seen.add(p);
      if (clientPorts.length < size) clientPorts.push(p);
      else clusterPorts.push(p);
    }
    for (let i = 0; i < size; i++) {
      const name = `n${i + 1}`;
      const storeDir = join(root, name);
      const spec: NatsNodeSpec = { name, clientPort: clientPorts[i]!, storeDir };
      if (size > 1)
        spec.cluster = {
          name: options.clusterName ?? 'peerbench',
          port: clusterPorts[i]!,
          routes: clusterPorts.filter((_, j) => j !== i),
        };
      nodes.push(new NatsServerProcess(spec, binary));
    }
    await Promise.all(nodes.map((n) => n.ready(timeoutMs)));
    await waitForJetStream(
      nodes.map((n) => n.url),
      timeoutMs,
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return { nodes, urls: nodes.map((n) => n.url), stop };
}

/** Polls the JetStream API (account info) until it answers: in a cluster that means a meta leader exists. */
export async function waitForJetStream(
  urls: string[],
  timeoutMs = DEFAULT_NATS_READY_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const nc = await connect({ servers: urls, timeout: timeoutMs });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 1000, checkAPI: false });
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        await jsm.getAccountInfo();
        return;
      } catch (e) {
        last = e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new NatsServerError(
      'nats-server-timeout',
      `JetStream did not answer within ${timeoutMs} ms: ${last instanceof Error ? last.message : String(last)}`,
    );
  } finally {
    await nc.close();
  }
}

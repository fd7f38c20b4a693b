/**
 * A lab: a set of network namespaces made by one run, with everything in
 * them (veth pairs, bridges, nftables tables, processes). Links are created
 * directly inside their namespaces (`ip -n A link add … peer … netns B`), so
 * nothing of ours ever sits in the root namespace: deleting a namespace
 * removes its links and nft tables with it, and `destroy()` only has to stop
 * processes and delete namespaces.
 *
 * Names: `<prefix>-<pid>-<tag>-<label>`. A run that was killed (SIGKILL, OOM)
 * cannot clean up after itself; the next `Lab.create` with the same prefix
 * sweeps every namespace whose owning pid is no longer alive.
 */
import { randomBytes } from 'node:crypto';
import { cleanUpOnExit, pidAlive } from '@peerbench/protocol/exit-cleanup';
import { NetlabError } from './errors.js';
import { inNs, type RunResult, run, runSyncQuiet, succeeds } from './exec.js';
import { LabProcess, type SpawnOptions } from './process.js';

/** Default name prefix; tests and scripts of this repository all use it. */
export const DEFAULT_LAB_PREFIX = 'pbnl';

/**
 * Why network namespaces cannot be made here (not Linux, not root, no
 * `ip netns`), or null. Tests skip on this and only this: where namespaces
 * work, a missing nft/coturn/python3 is an error (`Lab.create`,
 * `startCoturn`), so CI cannot silently skip the NAT tests.
 */
export function labUnavailableReason(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root (run as root, as CI does)';
  if (!succeeds(['ip', 'netns', 'list'])) return '`ip netns` is unavailable (iproute2 missing?)';
  return null;
}

/** What else the lab needs where namespaces work: nft, and python3 for the delay forwarder. */
export function labToolsMissingReason(): string | null {
  if (!succeeds(['nft', '--version'])) {
    return '`nft` is missing: apt-get install nftables (scripts/setup.sh does)';
  }
  if (!succeeds(['python3', '--version'])) {
    return '`python3` is missing: apt-get install python3-minimal (scripts/setup.sh does)';
  }
  return null;
}

function listNamespaces(): string[] {
  return runSyncQuiet(['ip', 'netns', 'list'])
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.length > 0);
}

/** Kills every process inside `ns` and deletes it; errors ignored (cleanup path). */
function removeNamespaceSync(ns: string): void {
  for (const pid of runSyncQuiet(['ip', 'netns', 'pids', ns]).split(/\s+/)) {
    const n = Number(pid);
    if (Number.isInteger(n) && n > 0) {
      try {
        process.kill(n, 'SIGKILL');
      } catch {}
    }
  }
  runSyncQuiet(['ip', 'netns', 'del', ns]);
}

/**
 * Removes the namespaces (and so their links, nft tables and processes) that
 * earlier runs with this prefix left behind: those whose owning pid is dead.
 * Returns the names removed.
 */
export function sweepLeftovers(prefix: string = DEFAULT_LAB_PREFIX): string[] {
  const removed: string[] = [];
  for (const ns of listNamespaces()) {
    const [p, pid] = ns.split('-');
    if (p !== prefix) continue;
    const owner = Number(pid);
    // A live owner (this process included) still uses its namespaces. A dead
    // run's pid reused by another process delays the sweep until that one exits.
    if (Number.isInteger(owner) && owner > 0 && pidAlive(owner)) continue;
    removeNamespaceSync(ns);
    removed.push(ns);
  }
  return removed;
}

const LABEL_PATTERN = /^[a-z][a-z0-9]{0,11}$/;
const IFNAME_PATTERN = /^[a-z][a-z0-9]{0,14}$/;

/** One network namespace of a lab. */
export class Namespace {
  constructor(
    readonly lab: Lab,
    /** The full name (`ip netns exec <name>`). */
    readonly name: string,
    /** The short name given to `addNamespace`. */
    readonly label: string,
  ) {}

  /** Runs argv inside this namespace and waits for it. */
  exec(argv: readonly string[], input?: string): Promise<RunResult> {
    this.lab.assertLive();
    return run(inNs(this.name, argv), input);
  }

  /** `ip <args>` inside this namespace. */
  ip(...args: string[]): Promise<RunResult> {
    this.lab.assertLive();
    return run(['ip', '-n', this.name, ...args]);
  }

  /** Loads an nftables ruleset (nft -f syntax) inside this namespace. */
  nft(ruleset: string): Promise<RunResult> {
    return this.exec(['nft', '-f', '-'], ruleset);
  }

  sysctl(key: string, value: string): Promise<RunResult> {
    return this.exec(['sysctl', '-qw', `${key}=${value}`]);
  }

  /** Starts a long-running process inside this namespace; the lab stops it on destroy. */
  spawn(argv: readonly string[], opts: SpawnOptions = {}): LabProcess {
    return this.lab.spawnIn(this, argv, opts);
  }

  setLinkUp(ifname: string, up: boolean): Promise<RunResult> {
    return this.ip('link', 'set', 'dev', ifname, up ? 'up' : 'down');
  }
}

export interface LabOptions {
  /** Name prefix for sweeping; default DEFAULT_LAB_PREFIX. At most 6 lowercase letters. */
  prefix?: string;
}

export class Lab {
  readonly prefix: string;
  /** `<prefix>-<pid>-<tag>`: every namespace name of this lab starts with it. */
  readonly runId: string;
  private readonly namespaces = new Map<string, Namespace>();
  private readonly processes = new Set<LabProcess>();
  private destroyed = false;
  /** Takes back the exit/signal clean-up registered for this lab (`cleanUpOnExit`). */
  private forgetCleanup: () => void = () => {};

  private constructor(prefix: string) {
    this.prefix = prefix;
    this.runId = `${prefix}-${process.pid}-${randomBytes(3).toString('hex')}`;
  }

  /** Sweeps leftovers of dead runs, then makes an empty lab. Throws `unavailable` when it cannot run. */
  static create(opts: LabOptions = {}): Lab {
    const prefix = opts.prefix ?? DEFAULT_LAB_PREFIX;
    if (!/^[a-z]{1,6}$/.test(prefix)) throw new NetlabError('invalid-argument', `bad prefix ${prefix}`);
    const reason = labUnavailableReason() ?? labToolsMissingReason();
    if (reason) throw new NetlabError('unavailable', reason);
    sweepLeftovers(prefix);
    const lab = new Lab(prefix);
    lab.forgetCleanup = cleanUpOnExit(() => lab.destroySync());
    return lab;
  }

  assertLive(): void {
    if (this.destroyed) throw new NetlabError('destroyed', `lab ${this.runId} was destroyed`);
  }

  /** A new namespace with `lo` up, IPv6 off (fewer candidates, no router solicitations). */
  async addNamespace(label: string): Promise<Namespace> {
    this.assertLive();
    if (!LABEL_PATTERN.test(label)) throw new NetlabError('invalid-argument', `bad namespace label ${label}`);
    if (this.namespaces.has(label)) throw new NetlabError('invalid-argument', `namespace ${label} exists`);
    const name = `${this.runId}-${label}`;
    await run(['ip', 'netns', 'add', name]);
    const ns = new Namespace(this, name, label);
    this.namespaces.set(label, ns);
    await ns.sysctl('net.ipv6.conf.all.disable_ipv6', '1');
    await ns.sysctl('net.ipv6.conf.default.disable_ipv6', '1');
    await ns.setLinkUp('lo', true);
    return ns;
  }

  namespace(label: string): Namespace {
    const ns = this.namespaces.get(label);
    if (!ns) throw new NetlabError('invalid-argument', `no namespace ${label}`);
    return ns;
  }

  /** A veth pair `aIf` (in a) ↔ `bIf` (in b), both up. Made inside the namespaces, never in the root one. */
  async veth(a: Namespace, aIf: string, b: Namespace, bIf: string): Promise<void> {
    this.assertLive();
    for (const n of [aIf, bIf]) {
      if (!IFNAME_PATTERN.test(n)) throw new NetlabError('invalid-argument', `bad interface name ${n}`);
    }
    await a.ip('link', 'add', 'name', aIf, 'type', 'veth', 'peer', 'name', bIf, 'netns', b.name);
    await a.setLinkUp(aIf, true);
    await b.setLinkUp(bIf, true);
  }

  /** A bridge `ifname` inside ns, up. */
  async bridge(ns: Namespace, ifname: string): Promise<void> {
    await ns.ip('link', 'add', 'name', ifname, 'type', 'bridge');
    await ns.setLinkUp(ifname, true);
  }

  spawnIn(ns: Namespace, argv: readonly string[], opts: SpawnOptions): LabProcess {
    this.assertLive();
    const proc = new LabProcess(inNs(ns.name, argv), opts);
    this.processes.add(proc);
    void proc.exited.then(() => this.processes.delete(proc));
    return proc;
  }

  /** Stops every process (SIGTERM, then SIGKILL after its bound) and deletes every namespace. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    await Promise.all([...this.processes].map((p) => p.stop()));
    this.destroySync();
  }

  /** The synchronous part of destroy, also run from exit/signal handlers. */
  destroySync(): void {
    this.destroyed = true;
    for (const p of this.processes) p.kill('SIGKILL');
    for (const ns of this.namespaces.values()) removeNamespaceSync(ns.name);
    this.namespaces.clear();
    this.forgetCleanup();
  }

  /** Namespace names that exist right now and belong to this lab (for leak checks). */
  static existing(prefixOrRunId: string): string[] {
    return listNamespaces().filter((n) => n.startsWith(`${prefixOrRunId}-`));
  }
}

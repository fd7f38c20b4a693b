/**
 * The signaling server as an operator runs it — its own CLI
 * (signaling-server/src/cli.ts) with the embedded ledger in memory — in a
 * lab namespace, with STUN/TURN configured from flags and the TURN secret
 * from the environment (never a flag: flags show in `ps`). The chain is read
 * back over its HTTP API from inside the namespace (the test process has no
 * route into the lab).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LedgerStateView } from '@peerbench/ledger';
import { NetlabError } from './errors.js';
import type { Namespace } from './lab.js';
import type { LabProcess } from './process.js';

const PACKAGE_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
const CLI = join(PACKAGE_DIR, 'node_modules', '@peerbench', 'signaling-server', 'src', 'cli.ts');
/** node + tsx + the server and ledger modules on a loaded machine. */
export const LAB_SERVER_START_TIMEOUT_MS = 60_000;
/** The CLI stops the server, then the ledger (bounded itself). */
export const LAB_SERVER_STOP_GRACE_MS = 10_000;
/** Below exec.ts COMMAND_TIMEOUT_MS (10 s), so a hung read fails with its own message. */
const HTTP_READ_TIMEOUT_MS = 8_000;

export interface LabServerOptions {
  host: string;
  port: number;
  /** The embedded producer's block interval. */
  blockIntervalMs: number;
  stunUrls?: string[];
  turnUrls?: string[];
  /** TURN REST secret (coturn's static-auth-secret), passed in PEERBENCH_TURN_SECRET. */
  turnSecret?: string;
}

export class LabServer {
  private constructor(
    readonly ns: Namespace,
    readonly process: LabProcess,
    /** ws://host:port */
    readonly url: string,
    readonly httpUrl: string,
  ) {}

  static async start(ns: Namespace, opts: LabServerOptions): Promise<LabServer> {
    const argv = [
      process.execPath,
      '--import',
      'tsx',
      CLI,
      '--host',
      opts.host,
      '--port',
      String(opts.port),
      '--memory-ledger',
      '--block-interval-ms',
      String(opts.blockIntervalMs),
    ];
    if (opts.stunUrls?.length) argv.push('--stun-urls', opts.stunUrls.join(','));
    if (opts.turnUrls?.length) argv.push('--turn-urls', opts.turnUrls.join(','));
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('PEERBENCH_')) delete env[k];
    if (opts.turnSecret) env.PEERBENCH_TURN_SECRET = opts.turnSecret;
    const proc = ns.spawn(argv, { cwd: PACKAGE_DIR, env });
    try {
      await proc.waitForOutput(/listening on ws:\/\/\S+/, LAB_SERVER_START_TIMEOUT_MS);
    } catch (err) {
      await proc.stop(1_000);
      throw err;
    }
    const url = `ws://${opts.host}:${opts.port}`;
    return new LabServer(ns, proc, url, `http://${opts.host}:${opts.port}`);
  }

  /** GET path on the server from inside its namespace; the body as text. */
  async get(path: string): Promise<string> {
    const code = `fetch(${JSON.stringify(this.httpUrl + path)},{signal:AbortSignal.timeout(${HTTP_READ_TIMEOUT_MS})}).then(async r=>{if(!r.ok)throw new Error('HTTP '+r.status);process.stdout.write(await r.text())}).catch(e=>{console.error(String(e));process.exit(1)})`;
    const r = await this.ns.exec([process.execPath, '-e', code]);
    return r.stdout;
  }

  /** The whole ledger state (GET /ledger/state). */
  async ledgerState(): Promise<LedgerStateView> {
    const text = await this.get('/ledger/state');
    try {
      return JSON.parse(text) as LedgerStateView;
    } catch {
      throw new NetlabError('command-failed', `/ledger/state did not answer JSON: ${text.slice(0, 200)}`);
    }
  }

  /** SIGTERM (the CLI stops the server, then the ledger), SIGKILL after the grace. */
  async stop(): Promise<void> {
    await this.process.stop(LAB_SERVER_STOP_GRACE_MS);
  }
}

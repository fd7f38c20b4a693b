/**
 * Clustered signaling servers for tests: instance keys and a shared genesis
 * in a temp dir (as an operator makes them: key files, cluster-genesis),
 * instances opened through the CLI's own parsing and ledger-backend.ts, and a
 * RemoteChain transport over a real signaling WebSocket.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type GenesisConfig, type LedgerTransport, parseBlock } from '@peerbench/ledger';
import { parseServerMessage, type ServerMessage } from '@peerbench/protocol';
import { clusterGenesisFromArgs } from '../src/cluster-genesis.js';
import { ledgerSettingsFromEnv, optionsFromEnv } from '../src/env.js';
import { instanceIdentity, type LedgerBackend, openLedgerBackend } from '../src/ledger-backend.js';
import { createSignalingServer, type SignalingServer } from '../src/server.js';
import type { TestClient } from './helpers.js';

export const BLOCK_INTERVAL_MS = 200;
export const LEASE_TTL_MS = 1500;
/** Low so a test's register txs are cheap (the CLI's chains use SERVER_REGISTRATION_WORK_BITS). */
const TEST_WORK_BITS = 4;

export interface ClusterDir {
  dir: string;
  genesis: GenesisConfig;
  genesisFile: string;
  /** Key file of instance i (data dir `<dir>/i<i>` holds it for the first `producers`). */
  keyFile(i: number): string;
  dataDir(i: number): string;
  remove(): void;
}

/**
 * Keys for `instances` instances, of which the first `producers` are listed in
 * the genesis (the rest only follow), and the genesis file they share.
 */
export async function clusterDir(instances: number, producers: number): Promise<ClusterDir> {
  const dir = mkdtempSync(join(tmpdir(), 'peerbench-cluster-'));
  const dataDir = (i: number) => join(dir, `i${i}`);
  const keyFile = (i: number) => join(dataDir(i), 'producer.key');
  const ids: string[] = [];
  for (let i = 0; i < instances; i++) ids.push((await instanceIdentity(keyFile(i))).peerId);
  const { genesis: made } = clusterGenesisFromArgs(
    [
      '--producers',
      ids.slice(0, producers).join(','),
      '--chain-id',
      `test-${Math.random().toString(36).slice(2, 8)}`,
    ],
    Date.now(),
  );
  const genesis: GenesisConfig = { ...made, registrationWorkBits: TEST_WORK_BITS };
  const genesisFile = join(dir, 'genesis.json');
  writeFileSync(genesisFile, JSON.stringify(genesis));
  return {
    dir,
    genesis,
    genesisFile,
    keyFile,
    dataDir,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The CLI flags of clustered instance i (a SQLite store in its data dir). */
export function instanceArgs(c: ClusterDir, i: number, natsUrls: string[]): string[] {
  return [
    '--nats',
    natsUrls.join(','),
    '--genesis',
    c.genesisFile,
    '--data-dir',
    c.dataDir(i),
    '--block-interval-ms',
    String(BLOCK_INTERVAL_MS),
    '--lease-ttl-ms',
    String(LEASE_TTL_MS),
    '--instance-id',
    `i${i}`,
  ];
}

export interface Instance {
  backend: LedgerBackend;
  server: SignalingServer;
  stop(): Promise<void>;
}

/** A clustered instance in this process, from CLI flags (ledger ones and --heartbeat-interval-ms), as cli.ts puts it together. */
export async function startInstance(argv: string[]): Promise<Instance> {
  const backend = await openLedgerBackend(ledgerSettingsFromEnv(argv, {}));
  const { heartbeatIntervalMs } = optionsFromEnv(argv, {});
  const server = createSignalingServer({
    host: '127.0.0.1',
    port: 0,
    ...(heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs } : {}),
    ledger: backend.hook,
    ...(backend.roomBridge ? { roomBridge: backend.roomBridge } : {}),
  });
  await server.start();
  let stopped: Promise<void> | undefined;
  return {
    backend,
    server,
    stop: () => {
      stopped ??= server.stop().then(() => backend.stop());
      return stopped;
    },
  };
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return (await res.json()) as T;
}

export interface Health {
  ok: boolean;
  ledger: { role: string; height: number; lagBlocks: number; natsConnected: boolean | null } | null;
}

/** Hash of the block at `height` as instance `httpUrl` serves it. */
export async function blockHashAt(httpUrl: string, height: number): Promise<string> {
  const { blocks } = await getJson<{ blocks: unknown[] }>(`${httpUrl}/ledger/blocks?from=${height}&limit=1`);
  if (blocks.length !== 1) throw new Error(`${httpUrl} has no block ${height}`);
  return parseBlock(blocks[0]).hash;
}

/**
 * What the browser's RemoteChain gets from packages/mesh, over a joined
 * TestClient: txs as `ledger-tx`, blocks (or their parts) from `ledger-subscribe`.
 */
export function wsLedgerTransport(client: TestClient): LedgerTransport {
  let next = 0;
  return {
    async sendTx(tx) {
      const requestId = `t${next++}`;
      client.send({ type: 'ledger-tx', requestId, tx });
      const r = await client.next((m) => m.type === 'ledger-tx-result' && m.requestId === requestId, 10_000);
      return r.type === 'ledger-tx-result' ? r : { ok: false, code: 'internal' };
    },
    subscribe(fromHeight, onBlock) {
      const listener = (data: unknown) => {
        let m: ServerMessage;
        try {
          m = parseServerMessage(String(data));
        } catch {
          return;
        }
        if (m.type === 'ledger-block') onBlock(m.block);
      };
      client.ws.on('message', listener);
      client.send({ type: 'ledger-subscribe', fromHeight });
      return () => client.ws.off('message', listener);
    },
  };
}

const cliPath = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

/** Starts the CLI with these flags; resolves with its HTTP URL once it printed it. */
export async function spawnCli(
  args: string[],
): Promise<{ child: ChildProcess; httpUrl: string; stderr: string[] }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', cliPath, '--host', '127.0.0.1', '--port', '0', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PEERBENCH_STATIC_DIR: '' },
    },
  );
  const stderr: string[] = [];
  child.stderr?.setEncoding('utf8').on('data', (s: string) => stderr.push(s));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`cli exited early with ${code}: ${stderr.join('')}`)));
  });
  const url = /listening on ws:\/\/(\S+)/.exec(line)?.[1];
  if (!url) throw new Error(`unexpected first line: ${line}`);
  return { child, httpUrl: `http://${url}`, stderr };
}

import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSignalingServer,
  iceServersFromEnv,
  ledgerSettingsFromEnv,
  optionsFromEnv,
  resolveOptions,
  type SignalingServer,
  wantsHelp,
} from '../src/index.js';

/** A raw GET: fetch() would normalise `..` away before it ever reached the server. */
function rawGet(
  server: SignalingServer,
  path: string,
  method = 'GET',
): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type'] ?? '') }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('static web app', () => {
  let dir: string;
  let server: SignalingServer;
  const SECRET = 'top-secret-outside-the-web-root';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'peerbench-static-'));
    const web = join(dir, 'dist');
    mkdirSync(join(web, 'assets'), { recursive: true });
    mkdirSync(join(web, 'docs'));
    writeFileSync(join(web, 'index.html'), '<!doctype html><title>peerbench</title>');
    writeFileSync(join(web, 'assets', 'app-1a2b.js'), 'console.log(1)');
    writeFileSync(join(web, 'assets', 'style.css'), 'body{}');
    writeFileSync(join(web, 'assets', 'tfjs.wasm'), new Uint8Array([0, 97, 115, 109]));
    writeFileSync(join(web, 'docs', 'index.html'), '<p>docs</p>');
    writeFileSync(join(web, '.env'), 'SECRET=1');
    writeFileSync(join(dir, 'secret.txt'), SECRET);
    symlinkSync(join(dir, 'secret.txt'), join(web, 'leak.txt'));
    server = createSignalingServer({ host: '127.0.0.1', port: 0, staticDir: web });
    await server.start();
  });

  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves files with their content types and index.html for directories', async () => {
    const root = await rawGet(server, '/');
    expect(root).toMatchObject({ status: 200, type: 'text/html; charset=utf-8' });
    expect(root.body).toContain('<title>peerbench</title>');
    expect(await rawGet(server, '/assets/app-1a2b.js')).toMatchObject({
      status: 200,
      type: 'text/javascript; charset=utf-8',
      body: 'console.log(1)',
    });
    expect((await rawGet(server, '/assets/style.css')).type).toBe('text/css; charset=utf-8');
    expect((await rawGet(server, '/assets/tfjs.wasm')).type).toBe('application/wasm');
    expect((await rawGet(server, '/docs/')).body).toBe('<p>docs</p>');
    const head = await rawGet(server, '/assets/app-1a2b.js', 'HEAD');
    expect(head).toMatchObject({ status: 200, body: '' });
  });

  it('answers client-side routes with the app shell but missing assets with 404', async () => {
    const route = await rawGet(server, '/room/lab-7?x=1');
    expect(route.status).toBe(200);
    expect(route.body).toContain('<title>peerbench</title>');
    expect((await rawGet(server, '/assets/missing.js')).status).toBe(404);
  });

  it('never serves anything outside the directory, nor dotfiles', async () => {
    const attempts = [
      '/../secret.txt',
      '/assets/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/%2E%2E%2Fsecret.txt',
      '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/..%5csecret.txt',
      '/leak.txt',
      '/.env',
      '/%00index.html',
      '/%E0%A4%A',
      `//${join(dir, 'secret.txt')}`,
    ];
    for (const path of attempts) {
      const r = await rawGet(server, path);
      expect(r.body, path).not.toContain(SECRET);
      expect(r.body, path).not.toContain('SECRET=1');
      expect([400, 403, 404], path).toContain(r.status);
    }
  });

  it('still answers /health and /metrics ahead of static files', async () => {
    expect((await rawGet(server, '/health')).type).toBe('application/json; charset=utf-8');
    expect((await rawGet(server, '/metrics')).body).toContain('peerbench_signaling_connections');
  });
});

describe('options from flags and env', () => {
  it('reads host, port, limits and ICE servers, flags winning over env', () => {
    const opts = optionsFromEnv(
      ['--port', '9000', '--max-connections-per-ip', '5000', '--static', '/srv/web', '--degree', '3'],
      {
        PEERBENCH_DEGREE: '6',
        PEERBENCH_HOST: '0.0.0.0',
        PEERBENCH_PORT: '1234',
        PEERBENCH_MAX_ROOMS: '7',
        PEERBENCH_STUN_URLS: 'stun:a.example:3478, stun:b.example:3478',
        PEERBENCH_TURN_URLS: 'turn:t.example:3478',
        PEERBENCH_TURN_USERNAME: 'u',
        PEERBENCH_TURN_CREDENTIAL: 'p',
        PEERBENCH_TRUST_PROXY: '1',
      },
    );
    expect(opts).toMatchObject({
      host: '0.0.0.0',
      port: 9000,
      degree: 3,
      maxConnectionsPerIp: 5000,
      maxRooms: 7,
      staticDir: '/srv/web',
      trustProxy: true,
      iceServers: [
        { urls: ['stun:a.example:3478', 'stun:b.example:3478'] },
        { urls: ['turn:t.example:3478'], username: 'u', credential: 'p' },
      ],
    });
  });

  it('reads per-address budgets, the upgrade timeout and the socket cap from flags or env, and names a bad budget', () => {
    expect(
      optionsFromEnv(['--address-budgets', 'tx=5/50, join=1/20', '--upgrade-timeout-ms', '2000'], {
        PEERBENCH_ADDRESS_BUDGETS: 'message=1/1',
        PEERBENCH_MAX_OPEN_SOCKETS: '900',
      }),
    ).toEqual(
      expect.objectContaining({
        addressBudgets: { tx: { ratePerS: 5, burst: 50 }, join: { ratePerS: 1, burst: 20 } },
        upgradeTimeoutMs: 2000,
        maxOpenSockets: 900,
      }),
    );
    expect(
      optionsFromEnv([], { PEERBENCH_ADDRESS_BUDGETS: 'ledger-read-bytes=1048576/8388608' }).addressBudgets,
    ).toEqual({
      'ledger-read-bytes': { ratePerS: 1_048_576, burst: 8_388_608 },
    });
    expect(() => optionsFromEnv(['--address-budgets', 'txs=5/50'], {})).toThrow(
      /'txs=5\/50'.*KIND one of connection/,
    );
    expect(() => optionsFromEnv(['--address-budgets', 'tx=5'], {})).toThrow(/expected KIND=RATE\/BURST/);
    expect(() => optionsFromEnv(['--address-budgets', 'tx=5/0'], {})).toThrow(/BURST >= 1/);
  });

  it('takes the flags after the `--` that `pnpm … start -- …` passes through, paths relative to where it was typed', () => {
    const argv = ['--', '--host', '0.0.0.0', '--port', '9000', '--static', 'apps/web/dist'];
    expect(optionsFromEnv(argv, { INIT_CWD: '/repo' })).toMatchObject({
      host: '0.0.0.0',
      port: 9000,
      staticDir: '/repo/apps/web/dist',
    });
    expect(ledgerSettingsFromEnv(['--', '--data-dir', 'd'], { INIT_CWD: '/repo' }).dataDir).toBe('/repo/d');
    expect(wantsHelp(['--', '--help'])).toBe(true);
    expect(wantsHelp(['-h'])).toBe(true);
    expect(wantsHelp(['--host', 'h'])).toBe(false);
    // A `--` anywhere else is still an error, not silently dropped flags.
    expect(() => optionsFromEnv(['--host', 'h', '--', '--port', '1'], {})).toThrow(/Unexpected argument/);
  });

  it('has no ICE servers by default and rejects unknown flags and bad numbers', () => {
    expect(iceServersFromEnv({})).toEqual([]);
    expect(() => optionsFromEnv(['--bogus'], {})).toThrow();
    expect(() => optionsFromEnv(['--port', 'eighty'], {})).toThrow(/port/);
    expect(resolveOptions(optionsFromEnv([], {})).heartbeatIntervalMs).toBe(15_000);
  });
});

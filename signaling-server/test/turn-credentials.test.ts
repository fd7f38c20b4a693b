import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseServerMessage } from '@peerbench/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createSignalingServer,
  DEFAULT_TURN_CREDENTIAL_TTL_S,
  iceServersWithTurnCredentials,
  issueTurnCredential,
  optionsFromEnv,
  type SignalingServer,
  turnPassword,
  turnRestFromEnv,
} from '../src/index.js';
import { TestClient } from './helpers.js';

const SECRET = 'north-wind-secret-0001';
const NOW_MS = Date.UTC(2026, 0, 1); // 1767225600 s

describe('TURN REST credentials', () => {
  it('username is `<expiry>:<name>`, password base64(HMAC-SHA1(secret, username))', () => {
    const cred = issueTurnCredential(SECRET, 'alice', 3600, NOW_MS + 999);
    expect(cred.username).toBe('1767229200:alice');
    expect(cred.expiresAtS).toBe(1_767_229_200);
    expect(cred.credential).toBe(turnPassword(SECRET, cred.username));
    // Computed independently (Python: base64(hmac.new(secret, b'1767225600:alice', sha1).digest())).
    expect(turnPassword(SECRET, '1767225600:alice')).toBe('VQgoeyHTLMMfq9/CydV+NS2ESE4=');
  });

  it('a different secret, name or expiry gives a different password', () => {
    const base = issueTurnCredential(SECRET, 'alice', 3600, NOW_MS).credential;
    expect(issueTurnCredential(`${SECRET}x`, 'alice', 3600, NOW_MS).credential).not.toBe(base);
    expect(issueTurnCredential(SECRET, 'bob', 3600, NOW_MS).credential).not.toBe(base);
    expect(issueTurnCredential(SECRET, 'alice', 3601, NOW_MS).credential).not.toBe(base);
  });

  it.each([
    ['a short secret', () => issueTurnCredential('short', 'a', 3600)],
    ['a secret with a space', () => issueTurnCredential('sixteen chars ok!', 'a', 3600)],
    ['a TTL under a minute', () => issueTurnCredential(SECRET, 'a', 59)],
    ['a fractional TTL', () => issueTurnCredential(SECRET, 'a', 60.5)],
    ['a name with a colon', () => issueTurnCredential(SECRET, 'a:b', 3600)],
    ['an empty name', () => issueTurnCredential(SECRET, '', 3600)],
  ])('refuses %s with a coded error', (_label, f) => {
    expect(f).toThrow(expect.objectContaining({ name: 'TurnCredentialError' }));
  });

  it('ICE servers for a peer: STUN as is, TURN with its own credentials, valid in a welcome', () => {
    const config = {
      stunUrls: ['stun:198.18.0.1:3478'],
      turnUrls: ['turn:198.18.0.1:3478'],
      secret: SECRET,
      ttlS: 600,
    };
    const peerA = 'a'.repeat(64);
    const servers = iceServersWithTurnCredentials(config, peerA, NOW_MS);
    expect(servers).toEqual([
      { urls: ['stun:198.18.0.1:3478'] },
      {
        urls: ['turn:198.18.0.1:3478'],
        username: `${1_767_225_600 + 600}:${'a'.repeat(16)}`,
        credential: turnPassword(SECRET, `${1_767_225_600 + 600}:${'a'.repeat(16)}`),
      },
    ]);
    const other = iceServersWithTurnCredentials(config, 'b'.repeat(64), NOW_MS);
    expect(other[1]?.username).not.toBe(servers[1]?.username);
    const welcome = {
      type: 'welcome',
      peerId: peerA,
      room: 'r',
      peers: [],
      iceServers: servers,
      heartbeatIntervalMs: 1,
    };
    expect(() => parseServerMessage(JSON.stringify(welcome))).not.toThrow();
  });
});

describe('TURN options from flags and env', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('no TURN config: exactly the old behaviour (no ICE servers, no per-peer hook)', () => {
    const opts = optionsFromEnv([], {});
    expect(opts.iceServers).toEqual([]);
    expect(opts.iceServersForPeer).toBeUndefined();
    expect(turnRestFromEnv({}, {})).toBeNull();
  });

  it('a secret from env or from a file (the flag wins), TTL from flag or env, default TTL', () => {
    const env = { PEERBENCH_TURN_URLS: 'turn:198.18.0.1:3478', PEERBENCH_TURN_SECRET: SECRET };
    expect(turnRestFromEnv({}, env)).toEqual({
      stunUrls: [],
      turnUrls: ['turn:198.18.0.1:3478'],
      secret: SECRET,
      ttlS: DEFAULT_TURN_CREDENTIAL_TTL_S,
    });
    const dir = mkdtempSync(join(tmpdir(), 'turn-secret-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'secret'), 'from-a-file-0123456789\n');
    const opts = optionsFromEnv(
      [
        '--turn-secret-file',
        join(dir, 'secret'),
        '--turn-ttl-s',
        '300',
        '--stun-urls',
        'stun:198.18.0.1:3478',
      ],
      { ...env, PEERBENCH_TURN_TTL_S: '900' },
    );
    expect(opts.iceServers).toEqual([{ urls: ['stun:198.18.0.1:3478'] }]);
    const servers = opts.iceServersForPeer?.('c'.repeat(64)) ?? [];
    const turn = servers[1];
    expect(turn?.credential).toBe(turnPassword('from-a-file-0123456789', turn?.username ?? ''));
    const expiry = Number(turn?.username?.split(':')[0]);
    expect(expiry - Math.floor(Date.now() / 1000)).toBeGreaterThan(290);
    expect(expiry - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(300);
  });

  it.each([
    ['a secret without TURN URLs', [], { PEERBENCH_TURN_SECRET: SECRET }],
    ['a TTL without a secret', ['--turn-ttl-s', '600'], {}],
    ['a short secret', [], { PEERBENCH_TURN_URLS: 'turn:a', PEERBENCH_TURN_SECRET: 'short' }],
    [
      'a TTL out of range',
      ['--turn-ttl-s', '10'],
      { PEERBENCH_TURN_URLS: 'turn:a', PEERBENCH_TURN_SECRET: SECRET },
    ],
    [
      'a secret and a static credential',
      [],
      { PEERBENCH_TURN_URLS: 'turn:a', PEERBENCH_TURN_SECRET: SECRET, PEERBENCH_TURN_CREDENTIAL: 'x' },
    ],
    ['an http URL', ['--stun-urls', 'http://a'], {}],
    ['a missing secret file', ['--turn-secret-file', '/nonexistent/secret', '--turn-urls', 'turn:a'], {}],
  ])('refuses %s', (_label, argv, env) => {
    expect(() => optionsFromEnv(argv, env)).toThrow(expect.objectContaining({ code: 'invalid-options' }));
  });
});

describe('the welcome carries fresh TURN credentials per peer', () => {
  let server: SignalingServer | undefined;
  const clients: TestClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.ws.terminate();
    await server?.stop();
  });

  it('two peers of a room each get their own username, valid for the configured TTL', async () => {
    const opts = optionsFromEnv(['--host', '127.0.0.1', '--port', '0'], {
      PEERBENCH_STUN_URLS: 'stun:198.18.0.1:3478',
      PEERBENCH_TURN_URLS: 'turn:198.18.0.1:3478?transport=udp',
      PEERBENCH_TURN_SECRET: SECRET,
      PEERBENCH_TURN_TTL_S: '600',
    });
    server = createSignalingServer(opts);
    await server.start();
    const a = await TestClient.joined(server.url, 'lab');
    const b = await TestClient.joined(server.url, 'lab');
    clients.push(a.client, b.client);
    const turnA = a.welcome.iceServers[1];
    const turnB = b.welcome.iceServers[1];
    expect(a.welcome.iceServers[0]).toEqual({ urls: ['stun:198.18.0.1:3478'] });
    expect(turnA?.username).toMatch(new RegExp(`^\\d+:${a.client.peerId.slice(0, 16)}$`));
    expect(turnB?.username).toMatch(new RegExp(`^\\d+:${b.client.peerId.slice(0, 16)}$`));
    expect(turnA?.credential).toBe(turnPassword(SECRET, turnA?.username ?? ''));
    expect(turnB?.credential).toBe(turnPassword(SECRET, turnB?.username ?? ''));
  });
});

import { describe, expect, it } from 'vitest';
import {
  type IceServer,
  MAX_ICE_CREDENTIAL_CHARS,
  MAX_ICE_SERVERS,
  MAX_ICE_URL_CHARS,
  MAX_ICE_URLS_PER_SERVER,
  MAX_ICE_USERNAME_CHARS,
  parseServerMessage,
} from '../src/index.js';

const welcome = (iceServers: unknown) =>
  JSON.stringify({
    type: 'welcome',
    peerId: 'a'.repeat(64),
    room: 'r',
    peers: [],
    iceServers,
    heartbeatIntervalMs: 1000,
  });

const turn: IceServer = {
  urls: ['turn:198.18.0.1:3478?transport=udp', 'turns:turn.example.org:5349'],
  username: '1767225600:0123456789abcdef',
  credential: 'm7Qe2n3Vq6b1W0yFJ0n7o9mJ8Qk=',
};

describe('welcome.iceServers', () => {
  it('accepts STUN and TURN entries with REST credentials, a single URL string, and none at all', () => {
    for (const servers of [[], [{ urls: 'stun:198.18.0.1:3478' }, turn]]) {
      const msg = parseServerMessage(welcome(servers));
      expect(msg.type === 'welcome' && msg.iceServers).toEqual(servers);
    }
  });

  it.each([
    ['too many servers', Array.from({ length: MAX_ICE_SERVERS + 1 }, () => ({ urls: 'stun:a' }))],
    ['too many URLs', [{ urls: Array.from({ length: MAX_ICE_URLS_PER_SERVER + 1 }, () => 'stun:a') }]],
    ['an empty URL list', [{ urls: [] }]],
    ['a URL too long', [{ urls: `stun:${'a'.repeat(MAX_ICE_URL_CHARS)}` }]],
    ['a URL of another scheme', [{ urls: 'https://evil.example/' }]],
    ['a URL with a space', [{ urls: 'turn:a b' }]],
    ['a username too long', [{ ...turn, username: 'u'.repeat(MAX_ICE_USERNAME_CHARS + 1) }]],
    ['a credential too long', [{ ...turn, credential: 'c'.repeat(MAX_ICE_CREDENTIAL_CHARS + 1) }]],
    ['an unknown field', [{ ...turn, credentialType: 'oauth' }]],
  ])('refuses %s', (_label, servers) => {
    expect(() => parseServerMessage(welcome(servers))).toThrow(
      expect.objectContaining({ code: 'invalid-message' }),
    );
  });
});

import { describe, expect, it } from 'vitest';
import {
  generateRoomName,
  MAX_SERVER_URLS,
  parseLaunchConfig,
  ROOM_NAME_RE,
  shareUrlFor,
  urlWithRoom,
} from '../src/config.js';

const u = (s: string) => new URL(s);

describe('parseLaunchConfig', () => {
  it('takes the room from the link, else the last room, else a generated one', () => {
    expect(parseLaunchConfig(u('http://h:1/?room=abc_1'), { lastRoom: 'old' })).toMatchObject({
      room: 'abc_1',
      roomSource: 'link',
    });
    expect(parseLaunchConfig(u('http://h:1/'), { lastRoom: 'old' })).toMatchObject({
      room: 'old',
      roomSource: 'last-used',
    });
    const gen = parseLaunchConfig(u('http://h:1/'), { lastRoom: null, random: () => 0.5 });
    expect(gen.roomSource).toBe('generated');
    expect(gen.room).toMatch(ROOM_NAME_RE);
  });

  it('chooses the backend by trial unless ?trial=0 (issue 19)', () => {
    expect(parseLaunchConfig(u('http://h/?room=r'), { lastRoom: null }).backendTrial).toBe(true);
    expect(parseLaunchConfig(u('http://h/?room=r&trial=0'), { lastRoom: null }).backendTrial).toBe(false);
    expect(parseLaunchConfig(u('http://h/?room=r&trial=off'), { lastRoom: null }).backendTrial).toBe(false);
    expect(parseLaunchConfig(u('http://h/?room=r&trial=1'), { lastRoom: null }).backendTrial).toBe(true);
  });

  it('warns about an invalid room or backend instead of failing', () => {
    const c = parseLaunchConfig(u('http://h/?room=no%20spaces&backend=quantum'), { lastRoom: null });
    expect(c.roomSource).toBe('generated');
    expect(c.forcedBackend).toBeNull();
    expect(c.warnings).toHaveLength(2);
  });

  it('forces a backend with ?backend=, case-insensitively', () => {
    expect(parseLaunchConfig(u('http://h/?backend=WASM'), { lastRoom: null }).forcedBackend).toBe('wasm');
    expect(parseLaunchConfig(u('http://h/?backend=auto'), { lastRoom: null }).forcedBackend).toBeNull();
  });

  it('defaults the signaling server to the page origin and accepts ?server= overrides', () => {
    expect(parseLaunchConfig(u('http://h:8080/?room=a'), { lastRoom: null }).serverUrl).toBe(
      'ws://h:8080/ws',
    );
    expect(parseLaunchConfig(u('https://h/?room=a'), { lastRoom: null }).serverUrl).toBe('wss://h/ws');
    expect(parseLaunchConfig(u('http://h/?server=ws://x:9/sig'), { lastRoom: null }).serverUrl).toBe(
      'ws://x:9/sig',
    );
    expect(parseLaunchConfig(u('http://h/?server=https://x'), { lastRoom: null }).serverUrl).toBe(
      'wss://x/ws',
    );
    expect(parseLaunchConfig(u('http://h/?server=x:9'), { lastRoom: null }).serverUrl).toBe('ws://x:9/ws');
    const bad = parseLaunchConfig(u('http://h/?server=ftp://x'), { lastRoom: null });
    expect(bad.serverUrl).toBe('ws://h/ws');
    expect(bad.warnings).toHaveLength(1);
  });

  it('takes a comma-separated ?server= list of clustered instances, the first used first', () => {
    expect(parseLaunchConfig(u('http://h/?room=a'), { lastRoom: null }).serverUrls).toEqual(['ws://h/ws']);
    const two = parseLaunchConfig(u('http://h/?server=ws://a:1/ws, https://b ,a:1,ws://a:1/ws'), {
      lastRoom: null,
    });
    expect(two.serverUrls).toEqual(['ws://a:1/ws', 'wss://b/ws']);
    expect(two.serverUrl).toBe('ws://a:1/ws');
    expect(two.warnings).toEqual([]);
    const bad = parseLaunchConfig(u('http://h/?server=ws://a:1,ftp://b'), { lastRoom: null });
    expect(bad.serverUrls).toEqual(['ws://h/ws']);
    expect(bad.warnings).toHaveLength(1);
    const many = Array.from({ length: MAX_SERVER_URLS + 1 }, (_, i) => `ws://s${i}`).join(',');
    expect(parseLaunchConfig(u(`http://h/?server=${many}`), { lastRoom: null }).serverUrls).toEqual([
      'ws://h/ws',
    ]);
  });

  it('keeps a ?server= list in the share link', () => {
    const link = new URL(shareUrlFor(u('http://h/?server=ws://a:1,ws://b:2&backend=cpu'), 'r'));
    expect(link.searchParams.get('server')).toBe('ws://a:1,ws://b:2');
  });
});

describe('?adversary= (test only)', () => {
  it('makes the tab a noise peer and says so; unknown values stay honest with a warning; absent is honest', () => {
    const noise = parseLaunchConfig(u('http://h/?room=r&adversary=noise'), { lastRoom: null });
    expect(noise.testAdversary).toBe('noise');
    expect(noise.warnings.join(' ')).toMatch(/Test mode.*noise/);
    const bad = parseLaunchConfig(u('http://h/?room=r&adversary=evil'), { lastRoom: null });
    expect(bad.testAdversary).toBeNull();
    expect(bad.warnings.join(' ')).toMatch(/Unknown test adversary "evil".*honest/);
    expect(parseLaunchConfig(u('http://h/?room=r'), { lastRoom: null })).toMatchObject({
      testAdversary: null,
      warnings: [],
    });
  });

  it('is never carried by share links', () => {
    expect(shareUrlFor(u('http://h/?room=r&adversary=noise'), 'r')).toBe('http://h/?room=r');
  });
});

describe('share links', () => {
  it('carry the room and a server override but not a forced backend', () => {
    expect(shareUrlFor(u('http://h/app/?backend=cpu#x'), 'r1')).toBe('http://h/app/?room=r1');
    expect(shareUrlFor(u('http://h/?server=ws://s:1/ws&room=old'), 'r1')).toBe(
      'http://h/?room=r1&server=ws%3A%2F%2Fs%3A1%2Fws',
    );
    expect(urlWithRoom(u('http://h/?backend=cpu'), 'r2')).toBe('http://h/?backend=cpu&room=r2');
  });

  it('generated room names are valid and varied', () => {
    const names = new Set(Array.from({ length: 200 }, () => generateRoomName()));
    for (const n of names) expect(n).toMatch(ROOM_NAME_RE);
    expect(names.size).toBeGreaterThan(150);
  });
});

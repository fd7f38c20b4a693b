import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DEGREE,
  DEFAULT_PUBLIC_ROOM,
  generateRoomName,
  MAX_DEGREE,
  MAX_SERVER_URLS,
  parseLaunchConfig,
  privateRoomUrl,
  publicRoomUrl,
  ROOM_NAME_RE,
  shareUrlFor,
  urlWithRoom,
} from '../src/config.js';

const u = (s: string) => new URL(s);

describe('parseLaunchConfig', () => {
  it('takes the room from the link, else the server public room (issue 14: the bare URL joins one network)', () => {
    expect(parseLaunchConfig(u('http://h:1/?room=abc_1'), { publicRoom: 'everyone' })).toMatchObject({
      room: 'abc_1',
      roomSource: 'link',
      publicRoom: 'everyone',
    });
    expect(parseLaunchConfig(u('http://h:1/'), { publicRoom: 'everyone' })).toMatchObject({
      room: 'everyone',
      roomSource: 'public',
    });
    // A link naming the public room is the public network too.
    expect(parseLaunchConfig(u('http://h:1/?room=everyone'), { publicRoom: 'everyone' }).roomSource).toBe(
      'public',
    );
    // The server did not say (or said nonsense): the default public room.
    expect(parseLaunchConfig(u('http://h:1/')).room).toBe(DEFAULT_PUBLIC_ROOM);
    expect(parseLaunchConfig(u('http://h:1/'), { publicRoom: 'no spaces' }).room).toBe(DEFAULT_PUBLIC_ROOM);
  });

  it('a private room is a fresh ?room= link; the public one is the bare URL', () => {
    const priv = new URL(privateRoomUrl(u('http://h/?server=ws://s:1/ws&backend=cpu'), () => 0.5));
    expect(priv.searchParams.get('room')).toMatch(ROOM_NAME_RE);
    expect(priv.searchParams.get('server')).toBe('ws://s:1/ws');
    expect(priv.searchParams.get('backend')).toBeNull();
    expect(publicRoomUrl(u('http://h/?room=x&server=ws://s:1/ws&cpu=full#a'))).toBe(
      'http://h/?server=ws%3A%2F%2Fs%3A1%2Fws',
    );
  });

  it('chooses the backend by trial unless ?trial=0 (issue 19)', () => {
    expect(parseLaunchConfig(u('http://h/?room=r')).backendTrial).toBe(true);
    expect(parseLaunchConfig(u('http://h/?room=r&trial=0')).backendTrial).toBe(false);
    expect(parseLaunchConfig(u('http://h/?room=r&trial=off')).backendTrial).toBe(false);
    expect(parseLaunchConfig(u('http://h/?room=r&trial=1')).backendTrial).toBe(true);
  });

  it('warns about an invalid room or backend instead of failing', () => {
    const c = parseLaunchConfig(u('http://h/?room=no%20spaces&backend=quantum'));
    expect(c.roomSource).toBe('public');
    expect(c.forcedBackend).toBeNull();
    expect(c.warnings).toHaveLength(2);
  });

  it('forces a backend with ?backend=, case-insensitively', () => {
    expect(parseLaunchConfig(u('http://h/?backend=WASM')).forcedBackend).toBe('wasm');
    expect(parseLaunchConfig(u('http://h/?backend=auto')).forcedBackend).toBeNull();
  });

  it('defaults the signaling server to the page origin and accepts ?server= overrides', () => {
    expect(parseLaunchConfig(u('http://h:8080/?room=a')).serverUrl).toBe('ws://h:8080/ws');
    expect(parseLaunchConfig(u('https://h/?room=a')).serverUrl).toBe('wss://h/ws');
    expect(parseLaunchConfig(u('http://h/?server=ws://x:9/sig')).serverUrl).toBe('ws://x:9/sig');
    expect(parseLaunchConfig(u('http://h/?server=https://x')).serverUrl).toBe('wss://x/ws');
    expect(parseLaunchConfig(u('http://h/?server=x:9')).serverUrl).toBe('ws://x:9/ws');
    const bad = parseLaunchConfig(u('http://h/?server=ftp://x'));
    expect(bad.serverUrl).toBe('ws://h/ws');
    expect(bad.warnings).toHaveLength(1);
  });

  it('takes a comma-separated ?server= list of clustered instances, the first used first', () => {
    expect(parseLaunchConfig(u('http://h/?room=a')).serverUrls).toEqual(['ws://h/ws']);
    const two = parseLaunchConfig(u('http://h/?server=ws://a:1/ws, https://b ,a:1,ws://a:1/ws'));
    expect(two.serverUrls).toEqual(['ws://a:1/ws', 'wss://b/ws']);
    expect(two.serverUrl).toBe('ws://a:1/ws');
    expect(two.warnings).toEqual([]);
    const bad = parseLaunchConfig(u('http://h/?server=ws://a:1,ftp://b'));
    expect(bad.serverUrls).toEqual(['ws://h/ws']);
    expect(bad.warnings).toHaveLength(1);
    const many = Array.from({ length: MAX_SERVER_URLS + 1 }, (_, i) => `ws://s${i}`).join(',');
    expect(parseLaunchConfig(u(`http://h/?server=${many}`)).serverUrls).toEqual(['ws://h/ws']);
  });

  it('keeps a ?server= list in the share link', () => {
    const link = new URL(shareUrlFor(u('http://h/?server=ws://a:1,ws://b:2&backend=cpu'), 'r'));
    expect(link.searchParams.get('server')).toBe('ws://a:1,ws://b:2');
  });
});

describe('?adversary= (test only)', () => {
  it('makes the tab a noise peer and says so; unknown values stay honest with a warning; absent is honest', () => {
    const noise = parseLaunchConfig(u('http://h/?room=r&adversary=noise'));
    expect(noise.testAdversary).toBe('noise');
    expect(noise.warnings.join(' ')).toMatch(/Test mode.*noise/);
    const bad = parseLaunchConfig(u('http://h/?room=r&adversary=evil'));
    expect(bad.testAdversary).toBeNull();
    expect(bad.warnings.join(' ')).toMatch(/Unknown test adversary "evil".*honest/);
    expect(parseLaunchConfig(u('http://h/?room=r'))).toMatchObject({
      testAdversary: null,
      warnings: [],
    });
  });

  it('is never carried by share links', () => {
    expect(shareUrlFor(u('http://h/?room=r&adversary=noise'), 'r')).toBe('http://h/?room=r');
  });
});

describe('?degree= (D, the most links a peer keeps)', () => {
  it('is the link’s over the server’s over the default, and a bad value is ignored with a warning', () => {
    expect(parseLaunchConfig(u('http://h/'))).toMatchObject({
      degree: DEFAULT_DEGREE,
      degreeSource: 'default',
    });
    expect(parseLaunchConfig(u('http://h/'), { degree: 5 })).toMatchObject({
      degree: 5,
      degreeSource: 'server',
    });
    expect(parseLaunchConfig(u('http://h/?degree=3'), { degree: 5 })).toMatchObject({
      degree: 3,
      degreeSource: 'link',
      warnings: [],
    });
    expect(parseLaunchConfig(u(`http://h/?degree=${MAX_DEGREE}`)).degree).toBe(MAX_DEGREE);
    for (const bad of ['0', String(MAX_DEGREE + 1), '2.5', 'many', '-3']) {
      const c = parseLaunchConfig(u(`http://h/?degree=${bad}`), { degree: 5 });
      expect(c, bad).toMatchObject({ degree: 5, degreeSource: 'server' });
      expect(c.warnings.join(' '), bad).toMatch(/not a whole number from 1 to 32; keeping at most 5/);
    }
    // A server that says nonsense does not count.
    expect(parseLaunchConfig(u('http://h/'), { degree: 0 })).toMatchObject({ degree: DEFAULT_DEGREE });
  });

  it('is this device’s choice: share links do not carry it', () => {
    expect(shareUrlFor(u('http://h/?room=r&degree=3'), 'r')).toBe('http://h/?room=r');
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

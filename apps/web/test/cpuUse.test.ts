import { initialSnapshot, type PeerSnapshot } from '@peerbench/peer/worker';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseLaunchConfig, shareUrlFor, urlWithCpu } from '../src/config.js';
import { answerSetCpu, CpuControl, type MessageTarget } from '../src/cpuControl.js';
import { CPU_PACE, DEFAULT_CPU_LEVEL, levelOfPace, parseCpuLevel } from '../src/cpuUse.js';
import { PacedPeer, restAfter, type SteppablePeer } from '../src/pacedPeer.js';
import { emptyState, type KeyValueStore, type PersistedState, STORAGE_KEY } from '../src/persistence.js';
import { AppRuntime, type PeerHandle, type PeerLaunchOptions } from '../src/runtime.js';
import { createAppStore, initialAppState } from '../src/store.js';
import { parseInit, parseSetCpu, parseWorkerEvent } from '../src/workerProtocol.js';

const u = (s: string) => new URL(s);

describe('CPU use levels', () => {
  it('parses the three levels (any case, trimmed) and nothing else', () => {
    expect(parseCpuLevel('light')).toBe('light');
    expect(parseCpuLevel(' Balanced ')).toBe('balanced');
    expect(parseCpuLevel('FULL')).toBe('full');
    for (const bad of ['', 'max', 'lite', 3, null, undefined, {}, ['full']])
      expect(parseCpuLevel(bad)).toBeNull();
    expect(DEFAULT_CPU_LEVEL).toBe('light');
  });

  it('rest 3×, 1× and only the floor after a 120 ms step', () => {
    expect(restAfter(120, CPU_PACE.light)).toBe(360);
    expect(restAfter(120, CPU_PACE.balanced)).toBe(120);
    expect(restAfter(120, CPU_PACE.full)).toBe(CPU_PACE.full.minRestMs);
    expect(CPU_PACE.full.minRestMs).toBeLessThan(CPU_PACE.light.minRestMs);
    for (const l of ['light', 'balanced', 'full'] as const) expect(levelOfPace(CPU_PACE[l])).toBe(l);
  });
});

describe('?cpu= in the URL', () => {
  it('forces a known level; an unknown one gets the default and a warning; absent means not forced', () => {
    expect(parseLaunchConfig(u('http://h/?room=r&cpu=balanced'))).toMatchObject({
      forcedCpu: 'balanced',
      warnings: [],
    });
    const bad = parseLaunchConfig(u('http://h/?room=r&cpu=turbo'));
    expect(bad.forcedCpu).toBe('light');
    expect(bad.warnings.join(' ')).toMatch(/Unknown CPU use "turbo".*using light/);
    expect(parseLaunchConfig(u('http://h/?room=r')).forcedCpu).toBeNull();
  });

  it('is rewritten when the person chooses, and not carried by share links', () => {
    expect(urlWithCpu(u('http://h/?room=r&cpu=light'), 'full')).toBe('http://h/?room=r&cpu=full');
    expect(shareUrlFor(u('http://h/?room=r&cpu=full'), 'r')).toBe('http://h/?room=r');
  });
});

describe('worker protocol: cpu', () => {
  const init = {
    t: 'init',
    secretKey: new Uint8Array(32),
    room: 'r',
    serverUrl: 'ws://h/ws',
    wasmPaths: '/w/',
    backend: null,
    backendTrial: true,
    degree: 8,
  };
  it('the init message must carry a valid level', () => {
    expect(parseInit({ ...init, cpu: 'full' })).toMatchObject({ cpu: 'full' });
    expect(parseInit({ ...init, cpu: 'max' })).toBe('bad cpu level');
    expect(parseInit(init)).toBe('bad cpu level');
  });

  it('the init message must say whether to choose the backend by trial (issue 19)', () => {
    expect(parseInit({ ...init, cpu: 'light', backendTrial: false })).toMatchObject({ backendTrial: false });
    expect(parseInit({ ...init, cpu: 'light', backendTrial: 'yes' })).toBe('bad backendTrial');
    const { backendTrial: _, ...without } = init;
    expect(parseInit({ ...without, cpu: 'light' })).toBe('bad backendTrial');
  });

  it('the init message may carry a known test adversary and nothing else (absent: honest)', () => {
    expect(parseInit({ ...init, cpu: 'light' })).toMatchObject({ testAdversary: null });
    expect(parseInit({ ...init, cpu: 'light', testAdversary: 'noise' })).toMatchObject({
      testAdversary: 'noise',
    });
    expect(parseInit({ ...init, cpu: 'light', testAdversary: 'evil' })).toBe('bad testAdversary');
    // D crosses to the worker checked like the rest: a whole number from 1 to MAX_DEGREE.
    expect(parseInit({ ...init, cpu: 'light', degree: 3 })).toMatchObject({ degree: 3 });
    for (const degree of [0, 33, 2.5, '3', undefined])
      expect(parseInit({ ...init, cpu: 'light', degree })).toBe('bad degree');
    expect(parseInit({ ...init, cpu: 'light', testAdversary: 1 })).toBe('bad testAdversary');
  });

  it('the init message carries every server of the network (the genesis is asked of each in turn; absent: serverUrl alone)', () => {
    expect(parseInit({ ...init, cpu: 'light' })).toMatchObject({ serverUrls: ['ws://h/ws'] });
    const two = ['ws://a/ws', 'ws://b/ws'];
    expect(parseInit({ ...init, cpu: 'light', serverUrls: two })).toMatchObject({ serverUrls: two });
    for (const bad of [[], 'ws://a/ws', [1], Array.from({ length: 17 }, () => 'ws://a/ws')])
      expect(parseInit({ ...init, cpu: 'light', serverUrls: bad })).toBe('bad serverUrls');
  });

  it('set-cpu: a bad id is refused, an unknown level becomes the default with a note', () => {
    expect(parseSetCpu({ t: 'set-cpu', id: 1, level: 'balanced' })).toEqual({
      msg: { t: 'set-cpu', id: 1, level: 'balanced' },
    });
    expect(parseSetCpu({ t: 'set-cpu', id: -1, level: 'full' })).toBe('bad id');
    expect(parseSetCpu({ t: 'set-cpu', id: 2, level: 'warp' })).toMatchObject({
      msg: { level: 'light' },
      note: expect.stringMatching(/"warp".*light/),
    });
  });

  it('answers are validated on the page', () => {
    expect(parseWorkerEvent({ t: 'cpu', id: 3, level: 'full' })).toEqual({ t: 'cpu', id: 3, level: 'full' });
    expect(parseWorkerEvent({ t: 'cpu', id: 3, level: 'warp' })).toBeNull();
    expect(parseWorkerEvent({ t: 'ready', peerId: 'p' })).toBeNull();
    expect(parseWorkerEvent({ t: 'ready', peerId: 'p', cpu: 'light' })).toEqual({
      t: 'ready',
      peerId: 'p',
      cpu: 'light',
    });
  });
});

/** A Peer stand-in whose steps take `stepMs` on a fake clock. */
function fakePeer(stepMs: number, clock: { t: number }): SteppablePeer {
  let snap: PeerSnapshot = initialSnapshot('p', 'r');
  const subs = new Set<(s: PeerSnapshot) => void>();
  const publish = (patch: Partial<PeerSnapshot>) => {
    snap = { ...snap, ...patch };
    for (const cb of subs) cb(snap);
  };
  return {
    start: async () => publish({ status: 'running' }),
    stop: async () => publish({ status: 'stopped' }),
    pause: () => publish({ status: 'paused' }),
    resume: () => publish({ status: 'running' }),
    getSnapshot: () => snap,
    subscribe: (cb) => {
      subs.add(cb);
      return () => subs.delete(cb);
    },
    step: async () => {
      clock.t += stepMs;
      publish({ step: snap.step + 1 });
    },
  };
}

/** The worker's side of the command over a real MessageChannel, as peer.worker.ts wires it. */
function workerSide(port: MessagePort, loop: { setPace: PacedPeer['setPace'] }): void {
  port.addEventListener('message', (e) => {
    const answer = answerSetCpu(e.data, loop);
    if (answer) port.postMessage(answer);
  });
  port.start();
}

describe('set-cpu reaches the running PacedPeer', () => {
  const channels: MessageChannel[] = [];
  afterEach(() => {
    for (const c of channels.splice(0)) {
      c.port1.close();
      c.port2.close();
    }
  });

  it('the rest after the next step follows the new level, and the page gets the applied level back', async () => {
    const clock = { t: 0 };
    // 100 ms steps on the fake clock; real rests scaled down would be wall-clock, so the
    // pace's bounds are kept and only lastRestMs (a pure function of the fake step time) is read.
    const paced = new PacedPeer(fakePeer(100, clock), CPU_PACE.light, () => clock.t);
    const channel = new MessageChannel();
    channels.push(channel);
    workerSide(channel.port2, paced);
    const control = new CpuControl(channel.port1 as unknown as MessageTarget);
    channel.port1.start();
    await paced.start();
    await vi.waitFor(() => expect(paced.lastRestMs).toBe(300));

    expect(await control.set('full')).toEqual({ level: 'full' });
    expect(paced.getPace()).toEqual(CPU_PACE.full);
    // The 300 ms rest was cut short: the next step comes at once and rests only the floor.
    const at = paced.getSnapshot().step;
    await vi.waitFor(() => expect(paced.getSnapshot().step).toBeGreaterThan(at));
    await vi.waitFor(() => expect(paced.lastRestMs).toBe(CPU_PACE.full.minRestMs));

    expect(await control.set('balanced')).toEqual({ level: 'balanced' });
    await vi.waitFor(() => expect(paced.lastRestMs).toBe(100));
    await paced.stop();
    control.close();
  });

  it('an unknown level from the page is answered with the default and a note, not a crash', async () => {
    const clock = { t: 0 };
    const paced = new PacedPeer(fakePeer(50, clock), CPU_PACE.full, () => clock.t);
    const channel = new MessageChannel();
    channels.push(channel);
    workerSide(channel.port2, paced);
    const control = new CpuControl(channel.port1 as unknown as MessageTarget);
    channel.port1.start();
    const answer = await control.set('warp' as 'full');
    expect(answer.level).toBe('light');
    expect(answer.note).toMatch(/"warp"/);
    expect(paced.getPace()).toEqual(CPU_PACE.light);
    control.close();
  });
});

function memoryKv(initial: Record<string, unknown> = {}): KeyValueStore & { map: Map<string, unknown> } {
  const map = new Map(Object.entries(initial));
  return {
    map,
    get: async (k) => structuredClone(map.get(k)),
    set: async (k, v) => {
      map.set(k, structuredClone(v));
    },
    update: async (k, fn) => {
      map.set(k, structuredClone(fn(structuredClone(map.get(k)))));
    },
  };
}

describe('AppRuntime CPU use', () => {
  async function setup(pageUrl: string, stored?: PersistedState, creating?: Promise<void>) {
    const kv = memoryKv(stored ? { [STORAGE_KEY]: stored } : {});
    const launch = parseLaunchConfig(u(pageUrl));
    const store = createAppStore(initialAppState(launch, pageUrl));
    const asked: string[] = [];
    let launched: PeerLaunchOptions | null = null;
    const snap = initialSnapshot('p', 'r');
    const handle: PeerHandle = {
      thread: 'worker',
      cpuApplied: 'light',
      start: async () => {},
      stop: async () => {},
      pause: () => {},
      resume: () => {},
      subscribe: () => () => {},
      getSnapshot: () => snap,
      setCpu: async (level) => {
        asked.push(level);
        return { level };
      },
    };
    const urlWrites: string[] = [];
    const runtime = new AppRuntime({
      store,
      kv,
      createPeer: async (o) => {
        launched = o;
        await creating;
        return { ...handle, cpuApplied: o.cpu };
      },
      probeEnv: { gpu: undefined, webgl2: () => false, wasm: true },
      wasmPaths: '/w/',
      webrtcAvailable: true,
      setCpuInUrl: (l) => urlWrites.push(l),
    });
    await runtime.init();
    return { kv, store, runtime, asked, urlWrites, launched: () => launched };
  }

  it('starts at the saved level, applies a change live, saves it, and validates it', async () => {
    const stored = emptyState();
    stored.settings.cpu = 'balanced';
    const t = await setup('http://h/?room=r', stored);
    expect(t.store.getState().cpu).toMatchObject({ level: 'balanced', source: 'saved', applied: null });
    await t.runtime.contribute();
    expect(t.launched()?.cpu).toBe('balanced');
    expect(t.store.getState().cpu.applied).toBe('balanced');

    await t.runtime.setCpuLevel('full');
    expect(t.asked).toEqual(['full']);
    expect(t.store.getState().cpu).toMatchObject({ level: 'full', source: 'chosen', applied: 'full' });
    expect((t.kv.map.get(STORAGE_KEY) as PersistedState).settings.cpu).toBe('full');
    expect(t.urlWrites).toEqual([]); // the URL had no ?cpu=

    await t.runtime.setCpuLevel('nonsense');
    expect(t.store.getState().cpu.level).toBe('light');
    expect(t.store.getState().notes.join(' ')).toMatch(/Unknown CPU use "nonsense"/);
    await t.runtime.stop();
  });

  it('a level chosen while the worker starts is sent to it once it is ready', async () => {
    let release: () => void = () => {};
    const creating = new Promise<void>((r) => (release = r));
    const t = await setup('http://h/?room=r', undefined, creating);
    const contributing = t.runtime.contribute();
    await t.runtime.setCpuLevel('full'); // the worker is not there yet: saved, nothing sent
    expect(t.asked).toEqual([]);
    expect(t.launched()?.cpu).toBe('light'); // its init went out before the choice
    release();
    await contributing;
    await vi.waitFor(() => expect(t.store.getState().cpu.applied).toBe('full'));
    expect(t.asked).toEqual(['full']);
    await t.runtime.stop();
  });

  it('?cpu= wins over the saved level, and a choice rewrites the URL', async () => {
    const stored = emptyState();
    stored.settings.cpu = 'full';
    const t = await setup('http://h/?room=r&cpu=balanced', stored);
    expect(t.store.getState().cpu).toMatchObject({ level: 'balanced', source: 'url' });
    await t.runtime.setCpuLevel('light');
    expect(t.urlWrites).toEqual(['light']);
  });
});

/**
 * What the page was opened with: the room (from `?room=`, else the server's
 * public room: the bare URL joins the one public network), a forced backend (`?backend=`) and the
 * signaling server (`?server=`, else the page's own origin, because the
 * signaling server is what serves the app).
 */
import type { BackendName } from '@peerbench/peer';
import { MAX_NEIGHBOURHOOD_DEGREE } from '@peerbench/protocol';
import { type CpuLevel, DEFAULT_CPU_LEVEL, parseCpuLevel } from './cpuUse.js';

export const BACKEND_NAMES: readonly BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];
/** Same rule as the signaling protocol's ROOM_NAME_PATTERN (share links carry it). */
export const ROOM_NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** The public room when the server does not say (the signaling server's default too). */
export const DEFAULT_PUBLIC_ROOM = 'public';
/** Path of the signaling WebSocket on the server that serves the app. */
export const SIGNALING_PATH = '/ws';

/**
 * D: most WebRTC links (and gate slots for other peers) a peer keeps when the
 * server does not say and the link has no `?degree=` (issue 14: bounded
 * neighbourhoods; the swarm's default too).
 */
export const DEFAULT_DEGREE = 8;
/** Largest D a link may ask for (each link is a gate slot of the model: D + 1 slots in all). */
export const MAX_DEGREE = MAX_NEIGHBOURHOOD_DEGREE;

/** TEST ONLY: the adversaries a tab can be made to play (`?adversary=`). */
export const TEST_ADVERSARIES = ['noise'] as const;
export type TestAdversary = (typeof TEST_ADVERSARIES)[number];

export interface LaunchConfig {
  room: string;
  /**
   * What the room is: the server's public network (the bare URL, or a link
   * naming it) or a private room from a link (`?room=`).
   */
  roomSource: 'public' | 'link';
  /** The server's public room (GET /config; DEFAULT_PUBLIC_ROOM when the server did not say). */
  publicRoom: string;
  forcedBackend: BackendName | null;
  /**
   * Choose the backend by a short trial step on each one (default), or, with
   * `?trial=0`, by the fixed order WebGPU → WebGL → WASM → CPU (the first that
   * initialises). A forced backend needs neither.
   */
  backendTrial: boolean;
  /** WebSocket URL of the signaling server (the first of `serverUrls`: ledger HTTP calls go there). */
  serverUrl: string;
  /**
   * Every signaling server of the network, from `?server=a,b,c` (clustered
   * instances): the page joins the first and, when its connection drops,
   * rejoins on the next. One entry by default (the page's own origin).
   */
  serverUrls: string[];
  /**
   * Run the Peer in a background worker (default). `?worker=0` keeps it on the
   * page's main thread: the escape hatch for browsers without module workers
   * or where the worker misbehaves.
   */
  useWorker: boolean;
  /** `?cpu=light|balanced|full`: the CPU use for this page, over the saved choice (null: not in the URL or not valid). */
  forcedCpu: CpuLevel | null;
  /**
   * D (issue 14): this peer keeps WebRTC links to at most this many others,
   * chosen by the neighbour policy once per block, and has as many gate
   * slots for them. `?degree=N` (1..MAX_DEGREE), else the server's (GET
   * /config `degree`), else DEFAULT_DEGREE.
   */
  degree: number;
  /** Where `degree` came from. */
  degreeSource: 'link' | 'server' | 'default';
  /**
   * TEST ONLY. `?adversary=noise` makes this tab a noise peer: it trains and
   * scores like any other, but answers every other peer's expert calls with
   * uniform noise (packages/peer's `withNoiseAnswers`). The e2e suite uses it
   * to check that the ledger's rank finds such a peer out (issue 13). Never in
   * share links; the page says it is on. null: an honest peer.
   */
  testAdversary: TestAdversary | null;
  /** Problems with the query string a person should see (bad room, unknown backend). */
  warnings: string[];
}

const ADJECTIVES = [
  'amber',
  'brisk',
  'calm',
  'dusky',
  'eager',
  'fuzzy',
  'glad',
  'hazel',
  'ivory',
  'jolly',
  'keen',
  'lunar',
  'mellow',
  'nimble',
  'olive',
  'proud',
  'quiet',
  'rapid',
  'sunny',
  'tidy',
  'urban',
  'vivid',
  'witty',
  'young',
];
const NOUNS = [
  'otter',
  'falcon',
  'maple',
  'comet',
  'heron',
  'lynx',
  'cedar',
  'orbit',
  'pebble',
  'quartz',
  'raven',
  'tulip',
  'walrus',
  'yak',
  'zebra',
  'badger',
  'coral',
  'dune',
  'ember',
  'fjord',
  'gecko',
  'harbor',
  'iris',
  'juniper',
];

/** A readable room name such as `brisk-otter-4821` (about 2^19 names). */
export function generateRoomName(random: () => number = Math.random): string {
  const pick = (list: readonly string[]) => list[Math.floor(random() * list.length) % list.length]!;
  const digits = String(Math.floor(random() * 10000)).padStart(4, '0');
  return `${pick(ADJECTIVES)}-${pick(NOUNS)}-${digits}`;
}

/**
 * The page's launch settings. `publicRoom` is the server's (GET /config);
 * without it DEFAULT_PUBLIC_ROOM. A bare URL joins it; `?room=` joins that room.
 */
export function parseLaunchConfig(
  pageUrl: URL,
  opts: { publicRoom?: string | null; degree?: number | null } = {},
): LaunchConfig {
  const params = pageUrl.searchParams;
  const warnings: string[] = [];

  const publicRoom =
    opts.publicRoom && ROOM_NAME_RE.test(opts.publicRoom) ? opts.publicRoom : DEFAULT_PUBLIC_ROOM;
  let room = publicRoom;
  const roomParam = params.get('room');
  if (roomParam !== null && ROOM_NAME_RE.test(roomParam)) room = roomParam;
  else if (roomParam !== null) {
    warnings.push(
      `The room name in the link ("${roomParam.slice(0, 40)}") is not valid (letters, digits, - and _ only); joining the public network instead.`,
    );
  }
  const roomSource: LaunchConfig['roomSource'] = room === publicRoom ? 'public' : 'link';

  let forcedBackend: BackendName | null = null;
  const backendParam = params.get('backend');
  if (backendParam !== null && backendParam !== '' && backendParam !== 'auto') {
    const name = backendParam.toLowerCase();
    if ((BACKEND_NAMES as readonly string[]).includes(name)) forcedBackend = name as BackendName;
    else
      warnings.push(
        `Unknown backend "${backendParam.slice(0, 20)}" in the link; choosing automatically (webgpu, webgl, wasm or cpu can be forced).`,
      );
  }

  let serverUrls = [defaultServerUrl(pageUrl)];
  const serverParam = params.get('server');
  if (serverParam !== null && serverParam !== '') {
    const parsed = parseServerList(serverParam, pageUrl);
    if (parsed) serverUrls = parsed;
    else
      warnings.push(
        `The server in the link ("${serverParam.slice(0, 60)}") is not a ws://, wss://, http:// or https:// URL (or a comma-separated list of them); using ${serverUrls[0]}.`,
      );
  }
  const serverUrl = serverUrls[0] as string;
  const trialParam = params.get('trial');
  const backendTrial = trialParam === null || !['0', 'false', 'no', 'off'].includes(trialParam.toLowerCase());
  const workerParam = params.get('worker');
  const useWorker =
    workerParam === null || !['0', 'false', 'no', 'off', 'main'].includes(workerParam.toLowerCase());
  let forcedCpu: CpuLevel | null = null;
  const cpuParam = params.get('cpu');
  if (cpuParam !== null && cpuParam !== '') {
    forcedCpu = parseCpuLevel(cpuParam);
    if (forcedCpu === null) {
      // An explicit but broken choice gets the default, not a silently kept saved level.
      forcedCpu = DEFAULT_CPU_LEVEL;
      warnings.push(
        `Unknown CPU use "${cpuParam.slice(0, 20)}" in the link; using ${DEFAULT_CPU_LEVEL} (light, balanced or full).`,
      );
    }
  }
  const testAdversary = parseTestAdversary(params.get('adversary'), warnings);
  const { degree, degreeSource } = parseDegree(params.get('degree'), opts.degree ?? null, warnings);
  return {
    room,
    roomSource,
    publicRoom,
    forcedBackend,
    backendTrial,
    serverUrl,
    serverUrls,
    useWorker,
    forcedCpu,
    testAdversary,
    degree,
    degreeSource,
    warnings,
  };
}

const isDegree = (d: number) => Number.isInteger(d) && d >= 1 && d <= MAX_DEGREE;

/** `?degree=N` over the server's D over DEFAULT_DEGREE; a bad value in the link is ignored with a warning. */
function parseDegree(
  value: string | null,
  server: number | null,
  warnings: string[],
): Pick<LaunchConfig, 'degree' | 'degreeSource'> {
  const fallback: Pick<LaunchConfig, 'degree' | 'degreeSource'> =
    server !== null && isDegree(server)
      ? { degree: server, degreeSource: 'server' }
      : { degree: DEFAULT_DEGREE, degreeSource: 'default' };
  if (value === null || value === '') return fallback;
  const d = /^\d{1,3}$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (isDegree(d)) return { degree: d, degreeSource: 'link' };
  warnings.push(
    `The number of links in the link ("degree=${value.slice(0, 20)}") is not a whole number from 1 to ${MAX_DEGREE}; keeping at most ${fallback.degree}.`,
  );
  return fallback;
}

/** TEST ONLY: `?adversary=`; an unknown value is ignored with a warning, a known one is announced. */
function parseTestAdversary(value: string | null, warnings: string[]): TestAdversary | null {
  if (value === null || value === '') return null;
  const name = value.trim().toLowerCase();
  if (!(TEST_ADVERSARIES as readonly string[]).includes(name)) {
    warnings.push(
      `Unknown test adversary "${value.slice(0, 20)}" in the link; this tab runs as an honest peer.`,
    );
    return null;
  }
  warnings.push(
    'Test mode (?adversary=noise): this tab answers other peers with noise, to check that the network ranks it last. Remove it from the address to contribute.',
  );
  return name as TestAdversary;
}

/** ws(s)://<this page's host>/ws — the server that served the page. */
/** Most servers a `?server=` list may name. */
export const MAX_SERVER_URLS = 16;

export function defaultServerUrl(pageUrl: URL): string {
  const protocol = pageUrl.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${protocol}//${pageUrl.host}${SIGNALING_PATH}`;
}

/** Accepts ws/wss URLs as given, and http(s) URLs or bare host:port as "that server's /ws". */
export function parseServerParam(value: string, pageUrl: URL): string | null {
  let candidate = value;
  if (!/^[a-z]+:\/\//i.test(candidate)) candidate = `${pageUrl.protocol}//${candidate}`;
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return null;
  }
  if (url.protocol === 'ws:' || url.protocol === 'wss:') return url.toString();
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    const ws = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const path = url.pathname === '/' ? SIGNALING_PATH : url.pathname;
    return `${ws}//${url.host}${path}`;
  }
  return null;
}

/** A comma-separated list of servers (parseServerParam each), duplicates dropped; null if any is bad. */
export function parseServerList(value: string, pageUrl: URL): string[] | null {
  const items = value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (items.length === 0 || items.length > MAX_SERVER_URLS) return null;
  const out: string[] = [];
  for (const item of items) {
    const parsed = parseServerParam(item, pageUrl);
    if (parsed === null) return null;
    if (!out.includes(parsed)) out.push(parsed);
  }
  return out;
}

/**
 * The URL to give friends: this page with the room set. A forced backend is
 * dropped (the friend's device decides its own); a `?server=` override is kept
 * because without it the link would point at a different network.
 */
export function shareUrlFor(pageUrl: URL, room: string): string {
  return networkUrl(pageUrl, room);
}

/** This page with only `?room=` (when given) and `?server=` kept: the network, not this device's choices. */
function networkUrl(pageUrl: URL, room: string | null): string {
  const url = new URL(pageUrl.toString());
  url.hash = '';
  const server = url.searchParams.get('server');
  url.search = '';
  if (room !== null) url.searchParams.set('room', room);
  if (server) url.searchParams.set('server', server);
  return url.toString();
}

/** The page URL with `?cpu=` set, other parameters kept. */
export function urlWithCpu(pageUrl: URL, level: CpuLevel): string {
  const url = new URL(pageUrl.toString());
  url.searchParams.set('cpu', level);
  return url.toString();
}

/**
 * A new private room's URL (one click from the landing page): this page with
 * a fresh `?room=`, `?server=` kept. Opening it joins that room, and its share
 * link carries it as any room's does.
 */
export function privateRoomUrl(pageUrl: URL, random: () => number = Math.random): string {
  return shareUrlFor(pageUrl, generateRoomName(random));
}

/** The public network's URL: this page without `?room=`, `?server=` kept. */
export function publicRoomUrl(pageUrl: URL): string {
  return networkUrl(pageUrl, null);
}

/** The page URL with `?room=` set to the room in use, other parameters kept. */
export function urlWithRoom(pageUrl: URL, room: string): string {
  const url = new URL(pageUrl.toString());
  url.searchParams.set('room', room);
  return url.toString();
}

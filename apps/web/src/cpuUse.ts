/**
 * How much of the machine a volunteer gives: the "CPU use" setting. Three
 * levels, as volunteer-compute apps offer them (BOINC, Folding@home), each a
 * pace for the worker's training loop (pacedPeer.ts): after every step the
 * worker rests `restPerStep` × that step's duration, so a level is a share
 * of one core on any device (a 5 ms WebGPU step and a 120 ms WASM step alike).
 *
 *   light     rest 3× the step → busy ~25 % of a core. The default: three tabs
 *             on a 2-core machine keep their pages smooth (the e2e measures it).
 *   balanced  rest 1× the step → ~50 %.
 *   full      rest only a 4 ms floor (so the worker's event loop still answers
 *             other peers' calls between steps) → as fast as it can.
 *
 * The value crosses several boundaries (the URL, the stored settings, the
 * worker's message channel); each one parses it with `parseCpuLevel` and
 * falls back to the default with a note a person can read.
 */
import type { Pace } from './pacedPeer.js';

export const CPU_LEVELS = ['light', 'balanced', 'full'] as const;
export type CpuLevel = (typeof CPU_LEVELS)[number];
export const DEFAULT_CPU_LEVEL: CpuLevel = 'light';

export const CPU_PACE: Readonly<Record<CpuLevel, Pace>> = {
  light: { restPerStep: 3, minRestMs: 20, maxRestMs: 2000 },
  balanced: { restPerStep: 1, minRestMs: 20, maxRestMs: 2000 },
  full: { restPerStep: 0, minRestMs: 4, maxRestMs: 2000 },
};

/** One short line per level, shown next to the choice. */
export const CPU_LEVEL_TEXT: Readonly<Record<CpuLevel, { label: string; hint: string }>> = {
  light: { label: 'Light', hint: 'about a quarter of one core; your computer stays quiet' },
  balanced: { label: 'Balanced', hint: 'about half of one core' },
  full: { label: 'Full', hint: 'as fast as it can: a whole core; other apps may slow down' },
};

/** The level, or null when `x` is not one (any case and surrounding spaces accepted for URL input). */
export function parseCpuLevel(x: unknown): CpuLevel | null {
  if (typeof x !== 'string') return null;
  const name = x.trim().toLowerCase();
  return (CPU_LEVELS as readonly string[]).includes(name) ? (name as CpuLevel) : null;
}

/** The pace a level stands for. */
export function paceOf(level: CpuLevel): Pace {
  return CPU_PACE[level];
}

/** The level whose pace this is (paces only come from CPU_PACE), else the default. */
export function levelOfPace(pace: Pace): CpuLevel {
  return CPU_LEVELS.find((l) => CPU_PACE[l] === pace) ?? DEFAULT_CPU_LEVEL;
}

/** A readable rendering of an untrusted value for notes (bounded, no control characters). */
export function shownValue(x: unknown): string {
  const text = typeof x === 'string' ? x : (JSON.stringify(x) ?? String(x));
  let out = '';
  for (const ch of text.slice(0, 20)) out += ch < ' ' ? ' ' : ch;
  return out;
}

/** What the abuse benchmark's scenarios share (abuse.ts, abuse-flood.ts): client addresses, a log, a summary. */

/** The attacker's, the bystander's and the target's addresses: all of 127/8 is loopback on Linux. */
export const ATTACKER = '127.0.0.1';
export const BYSTANDER = '127.0.0.2';
export const TARGET_ADDRESS = '127.0.0.3';

export const log = (s: string) => process.stderr.write(`[abuse bench] ${s}\n`);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function summary(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
  return { n: s.length, p50: at(50), p99: at(99), max: s.at(-1) };
}

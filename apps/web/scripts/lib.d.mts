import type { ChildProcess } from 'node:child_process';

export const webDir: string;
export const repoRoot: string;
export const serverCli: string;
export function buildIfNeeded(opts?: { mode?: 'production' | 'e2e'; force?: boolean }): string;
export function startServerProcess(
  args: string[],
  opts?: { prefix?: string; logFile?: string | null; env?: Record<string, string> },
): { child: ChildProcess; url: Promise<string> };
export function relaySignals(children: ChildProcess[]): void;

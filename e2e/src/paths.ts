import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const E2E_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = join(E2E_DIR, '..');
export const ARTIFACTS_DIR = join(E2E_DIR, 'artifacts');
/** Same default as scripts/bench.mjs: $PEERBENCH_BENCH_DIR or <repo>/bench-results. */
export const BENCH_DIR = process.env.PEERBENCH_BENCH_DIR ?? join(REPO_ROOT, 'bench-results');

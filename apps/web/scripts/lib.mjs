// Shared by start.mjs and dev.mjs (and the e2e global setup): where things
// are, whether the build is stale, how to run the signaling server's CLI.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const webDir = join(dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = join(webDir, '../..');
const viteBin = join(webDir, 'node_modules/.bin/vite');
const tsxBin = join(repoRoot, 'node_modules/.bin/tsx');
export const serverCli = join(repoRoot, 'signaling-server/src/cli.ts');

function newestMtimeMs(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(path)) {
    if (name === 'node_modules' || name === 'dist' || name === 'dist-e2e' || name.startsWith('.')) continue;
    newest = Math.max(newest, newestMtimeMs(join(path, name)));
  }
  return newest;
}

/** Every source the bundle is made of: the app and the workspace packages it imports. */
function sourcesMtimeMs() {
  const roots = [
    join(webDir, 'src'),
    join(webDir, 'index.html'),
    join(webDir, 'e2e-pages'),
    join(webDir, 'vite.config.ts'),
    join(webDir, 'package.json'),
    join(repoRoot, 'pnpm-lock.yaml'),
  ];
  for (const pkg of readdirSync(join(repoRoot, 'packages')))
    roots.push(join(repoRoot, 'packages', pkg, 'src'));
  return Math.max(...roots.map(newestMtimeMs));
}

/** Builds apps/web into `outDir` (dist, or dist-e2e for mode 'e2e') unless it is newer than every source. */
export function buildIfNeeded({ mode = 'production', force = false } = {}) {
  const outDir = join(webDir, mode === 'e2e' ? 'dist-e2e' : 'dist');
  const marker = join(outDir, 'index.html');
  if (!force && existsSync(marker) && statSync(marker).mtimeMs >= sourcesMtimeMs()) {
    console.error(`web: ${outDir} is up to date`);
    return outDir;
  }
  console.error(`web: building the app into ${outDir} …`);
  const r = spawnSync(viteBin, ['build', '--mode', mode, '--logLevel', 'error'], {
    cwd: webDir,
    stdio: 'inherit',
  });
  if (r.status !== 0) throw new Error(`vite build failed (exit ${r.status})`);
  return outDir;
}

/**
 * Starts the signaling server CLI as a child process; `url` resolves with its
 * http URL once it prints one. With `logFile`, its output goes there instead
 * of this terminal.
 */
export function startServerProcess(args, { prefix = '', logFile = null, env = {} } = {}) {
  if (!existsSync(serverCli)) throw new Error(`the signaling server CLI is missing at ${serverCli}`);
  let errOut = 'inherit';
  if (logFile) {
    mkdirSync(dirname(logFile), { recursive: true });
    errOut = openSync(logFile, 'a');
  }
  const child = spawn(tsxBin, [serverCli, ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', errOut],
    env: { ...process.env, ...env },
  });
  const url = new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (chunk) => {
      const text = chunk.toString();
      if (!logFile) process.stdout.write(prefix ? text.replace(/^(?=.)/gm, prefix) : text);
      buffered += text;
      const m = buffered.match(/https?:\/\/[^\s]+/);
      if (m) resolve(m[0].replace(/\/$/, ''));
    });
    child.on('exit', (code) =>
      reject(new Error(`signaling server exited (code ${code}) before printing its URL`)),
    );
  });
  return { child, url };
}

/** Forwards Ctrl-C / SIGTERM to the children, then exits with the first child's code. */
export function relaySignals(children) {
  let stopping = false;
  const stop = (signal) => {
    if (stopping) return;
    stopping = true;
    for (const c of children) if (c.exitCode === null) c.kill(signal);
  };
  process.on('SIGINT', () => stop('SIGTERM'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  for (const c of children) {
    c.on('exit', (code) => {
      stop('SIGTERM');
      process.exitCode = code ?? 0;
    });
  }
}

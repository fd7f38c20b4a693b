/**
 * Every command line the READMEs document, run in a short form (or with
 * `--help`), so a README command that stops working fails CI. The first test
 * reads every README's code blocks and fails for a command this file does not
 * run: add it to ENTRY_POINTS (and a case below) when you document a new one.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** Upper bound per command (pnpm + tsx start-up on a loaded 2-core box); they take a few seconds. */
const COMMAND_TIMEOUT_MS = 90_000;
const tmp = mkdtempSync(join(tmpdir(), 'peerbench-entry-points-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The entry points this file runs, as they are keyed from README lines (see entryPointOf). */
const ENTRY_POINTS = new Set([
  'pnpm sim',
  'pnpm swarm',
  'pnpm bench',
  'pnpm --filter @peerbench/signaling-server start',
  'pnpm --filter @peerbench/signaling-server bench',
  'pnpm --filter @peerbench/signaling-server cluster-genesis',
  'pnpm --filter @peerbench/signaling-server bench:abuse',
  'pnpm --filter @peerbench/signaling-server bench:cluster',
  'pnpm --filter @peerbench/ledger bench',
  'pnpm --filter @peerbench/ledger bench:durable',
  'pnpm --filter @peerbench/ledger bench:nats',
  'pnpm --filter @peerbench/ledger bench:nats-node-kill',
  'pnpm --filter @peerbench/ledger fixture',
  'pnpm --filter @peerbench/netlab soak:train',
  'npx tsx src/cli.ts',
  'npx tsx src/compare.ts',
  // The test runner itself: CI runs it.
  'npx vitest',
  'pnpm vitest',
]);

/** `pnpm sim fig4 --n 16` → `pnpm sim`; `pnpm --filter X start -- …` → `pnpm --filter X start`. */
function entryPointOf(line: string): string | undefined {
  const words = line.trim().split(/\s+/);
  const [cmd] = words;
  if (cmd === 'pnpm')
    return words[1] === '--filter' ? words.slice(0, 4).join(' ') : words.slice(0, 2).join(' ');
  if (cmd === 'npm') return words.slice(0, 2).join(' ');
  if (cmd === 'npx') return words[1] === 'tsx' ? words.slice(0, 3).join(' ') : words.slice(0, 2).join(' ');
  return undefined;
}

function readmes(): string[] {
  const dirs = ['.', 'signaling-server', 'e2e'];
  for (const group of ['packages', 'apps'])
    for (const name of readdirSync(join(root, group))) dirs.push(join(group, name));
  return dirs.map((d) => join(root, d, 'README.md')).filter((p) => existsSync(p));
}

/** Command lines inside fenced code blocks of a README. */
function documentedCommands(readme: string): string[] {
  const lines: string[] = [];
  let inFence = false;
  for (const line of readFileSync(readme, 'utf8').split('\n')) {
    if (line.trimStart().startsWith('```')) inFence = !inFence;
    else if (inFence && /^\s*(pnpm|npm|npx)\s/.test(line)) lines.push(line.trim());
  }
  return lines;
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command in its own process group; the whole group is killed when the bound is hit. */
function start(cmd: string, args: string[], cwd = root): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(cmd, args, {
    cwd,
    detached: true,
    env: { ...process.env, FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), COMMAND_TIMEOUT_MS);
  const done = new Promise<Run>((resolveRun) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code, signal, stdout, stderr });
    }),
  );
  return { child, done };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

async function run(cmd: string, args: string[], cwd = root): Promise<Run> {
  const r = await start(cmd, args, cwd).done;
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code ?? r.signal}\n${r.stderr}`);
  return r;
}

const T = { timeout: 2 * COMMAND_TIMEOUT_MS };

describe('README entry points', () => {
  it('every command in a README code block is one this file runs', () => {
    const missing: string[] = [];
    let seen = 0;
    for (const readme of readmes())
      for (const line of documentedCommands(readme)) {
        seen++;
        const key = entryPointOf(line);
        if (key !== undefined && !ENTRY_POINTS.has(key))
          missing.push(`${readme.slice(root.length)}: ${line}`);
      }
    expect(seen).toBeGreaterThan(10);
    expect(missing).toEqual([]);
  });

  it('pnpm sim help, fig4 and fig5 (short)', T, async () => {
    expect((await run('pnpm', ['sim', 'help'])).stdout).toContain('fig4');
    const out = join(tmp, 'sim');
    await run('pnpm', [
      'sim',
      'fig4',
      '--n',
      '4',
      '--trials',
      '1',
      '--ratios',
      '1,10',
      '--seed',
      '1',
      '--out',
      out,
    ]);
    await run('pnpm', ['sim', 'fig5', '--n', '4', '--target', '1', '--seed', '1', '--out', out]);
    for (const f of ['fig4.json', 'fig4.svg', 'fig5.json', 'fig5.svg'])
      expect(existsSync(join(out, f)), f).toBe(true);
  });

  it('pnpm swarm --help, a short shared run, and compare.ts over its output', T, async () => {
    expect((await run('pnpm', ['swarm', '--help'])).stdout).toContain('--peers N');
    const out = join(tmp, 'swarm');
    await run('pnpm', [
      'swarm',
      ...['--peers', '2', '--steps', '2', '--k', '1', '--mode', 'shared', '--seed', '1'],
      ...['--eval-every', '2', '--eval-size', '10', '--out', out, '--quiet'],
    ]);
    const record = join(out, 'swarm.json');
    expect(JSON.parse(readFileSync(record, 'utf8'))).toBeTypeOf('object');
    const svg = join(tmp, 'compare.svg');
    await run(
      'npx',
      ['tsx', 'src/compare.ts', svg, `shared=${record}`, `isolated=${record}`],
      join(root, 'apps/swarm'),
    );
    expect(readFileSync(svg, 'utf8')).toContain('<svg');
  });

  it(
    'the signaling server CLI: --help, and the README start command serving, then stopping on SIGTERM',
    T,
    async () => {
      const server = join(root, 'signaling-server');
      expect((await run('npx', ['tsx', 'src/cli.ts', '--help'], server)).stdout).toContain('--host');
      const web = mkdtempSync(join(tmp, 'web-'));
      writeFileSync(join(web, 'index.html'), '<!doctype html><title>entry points</title>');
      // As the README has it: `pnpm --filter … start -- --host … --port … --static DIR` (port 0: any free one).
      const { child, done } = start('pnpm', [
        ...['--filter', '@peerbench/signaling-server', 'start', '--'],
        ...['--host', '127.0.0.1', '--port', '0', '--static', web, '--memory-ledger'],
      ]);
      let stdout = '';
      const url = await new Promise<string>((resolveUrl, rejectUrl) => {
        child.stdout?.on('data', (d: Buffer) => {
          stdout += d.toString();
          const m = /listening on ws:\/\/(\S+)/.exec(stdout);
          if (m?.[1]) resolveUrl(`http://${m[1]}`);
        });
        void done.then((r) => rejectUrl(new Error(`server exited ${r.code}: ${r.stderr}`)));
      });
      const health = (await (await fetch(`${url}/health`)).json()) as { ok: boolean };
      expect(health.ok).toBe(true);
      expect(await (await fetch(`${url}/`)).text()).toContain('entry points');
      killGroup(child, 'SIGTERM');
      const r = await done;
      expect(r.stderr).toContain('SIGTERM: shutting down');
      expect(r.signal).not.toBe('SIGKILL');
    },
  );

  it(
    'clustered mode setup: --print-peer-id per instance, then cluster-genesis over those ids',
    T,
    async () => {
      const ids: string[] = [];
      for (const i of [1, 2]) {
        // As the README has it: the last line printed is the peer id.
        const r = await run('pnpm', [
          ...['--filter', '@peerbench/signaling-server', 'start', '--'],
          ...['--data-dir', join(tmp, `cluster-i${i}`), '--print-peer-id'],
        ]);
        ids.push(r.stdout.trim().split('\n').at(-1) ?? '');
      }
      expect(ids[0]).toMatch(/^[0-9a-f]{64}$/);
      expect(ids[1]).not.toBe(ids[0]);
      const out = join(tmp, 'genesis.json');
      await run('pnpm', [
        ...['--filter', '@peerbench/signaling-server', 'cluster-genesis', '--'],
        ...['--producers', ids.join(','), '--out', out],
      ]);
      expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ producer: ids[0], producers: ids });
    },
  );

  it('npm start: the start script answers --help', T, async () => {
    expect((await run('node', ['apps/web/scripts/start.mjs', '--help'])).stdout).toContain(
      'usage: npm start',
    );
  });

  it('pnpm bench --help, and every package bench script answers --help without benchmarking', T, async () => {
    const listed = (await run('pnpm', ['--silent', 'bench', '--help'])).stdout;
    const benches: Array<{ dir: string; file: string }> = [];
    for (const dir of ['packages', 'apps']
      .flatMap((g) => readdirSync(join(root, g)).map((n) => join(g, n)))
      .concat('signaling-server')) {
      const pkgPath = join(root, dir, 'package.json');
      if (!existsSync(pkgPath)) continue;
      const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as {
        name: string;
        scripts?: Record<string, string>;
      };
      const script = pkg.scripts?.bench;
      if (!script) continue;
      expect(listed).toContain(pkg.name);
      // `tsx a.ts && tsx b.ts`: pnpm would hand --help to the last one only, so each file is asked itself.
      for (const part of script.split('&&')) {
        const m = /^\s*tsx\s+(\S+)\s*$/.exec(part);
        expect(m, `${pkg.name}: bench script part "${part}" is not "tsx FILE"`).not.toBeNull();
        benches.push({ dir, file: m?.[1] ?? '' });
      }
    }
    expect(benches.length).toBeGreaterThanOrEqual(5);
    for (const { dir, file } of benches) {
      const r = await run('npx', ['tsx', file, '--help'], join(root, dir));
      expect(r.stdout, `${dir}/${file}`).toContain('usage:');
    }
  });

  // The named bench scripts (`bench:*`) a README documents: each answers --help
  // before it attacks, kills or starts a NATS cluster.
  it.each([
    ['@peerbench/signaling-server', 'bench:abuse'],
    ['@peerbench/signaling-server', 'bench:cluster'],
    ['@peerbench/ledger', 'bench:durable'],
    ['@peerbench/ledger', 'bench:nats'],
    ['@peerbench/ledger', 'bench:nats-node-kill'],
  ])('pnpm --filter %s %s --help answers without benchmarking', T, async (pkg, script) => {
    const r = await run('pnpm', ['--silent', '--filter', pkg, script, '--help']);
    expect(r.stdout).toContain(`usage: pnpm --filter ${pkg} ${script}`);
  });

  it('pnpm --filter @peerbench/netlab soak:train --help answers without building a lab', T, async () => {
    const r = await run('pnpm', ['--silent', '--filter', '@peerbench/netlab', 'soak:train', '--', '--help']);
    expect(r.stdout).toContain('usage:');
  });

  it('pnpm --filter @peerbench/ledger fixture regenerates the committed fixture exactly', T, async () => {
    const out = join(tmp, 'chain.json');
    await run('pnpm', ['--silent', '--filter', '@peerbench/ledger', 'fixture', out]);
    const committed = join(root, 'packages/ledger/test/fixtures/chain.json');
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(JSON.parse(readFileSync(committed, 'utf8')));
  });
});

/**
 * The browser bundle must not contain packages/ledger's SQLite store (it
 * needs better-sqlite3, a native Node module). Checked on the import graph of
 * the production build's entries (the page and the Peer's worker), resolved
 * the way the bundler resolves them (package `exports`, bundler resolution):
 * a module the graph never reaches cannot be in the bundle. Static, dynamic
 * and type-only imports all count, so the check errs on the strict side.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const webDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = join(webDir, '..', '..');

const options: ts.CompilerOptions = {
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  allowImportingTsExtensions: true,
  resolveJsonModule: true,
  jsx: ts.JsxEmit.ReactJSX,
};

interface Graph {
  /** Source files of this repository reached, relative to its root. */
  files: Set<string>;
  /** Packages from node_modules imported by them. */
  external: Set<string>;
}

function walk(entries: string[]): Graph {
  const files = new Set<string>();
  const external = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop()!;
    const rel = relative(repoRoot, file);
    if (files.has(rel)) continue;
    files.add(rel);
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of info.importedFiles) {
      const { resolvedModule } = ts.resolveModuleName(fileName, file, options, ts.sys);
      // Workspace packages resolve (through their node_modules link) to real paths in this repository.
      const target = resolvedModule?.resolvedFileName;
      if (!target || target.includes('/node_modules/') || !target.startsWith(repoRoot)) {
        external.add(
          fileName.startsWith('@') ? fileName.split('/').slice(0, 2).join('/') : fileName.split('/')[0]!,
        );
        continue;
      }
      // Assets and declaration files are not modules of ours.
      if (/\.(ts|tsx)$/.test(target) && !target.endsWith('.d.ts')) queue.push(target);
    }
  }
  return { files, external };
}

const SQLITE_STORE = 'packages/ledger/src/sqlite-store.ts';

describe("the web app's import graph", () => {
  it('the page and the Peer worker never reach the SQLite store or better-sqlite3', () => {
    const graph = walk([join(webDir, 'src/main.tsx'), join(webDir, 'src/peer.worker.ts')]);
    // The walk does follow workspace packages (else the check below would prove nothing).
    expect(graph.files).toContain('packages/mesh/src/peer-mesh.ts');
    expect(graph.files).toContain('packages/ledger/src/light-client.ts');
    expect(graph.files).toContain('packages/protocol/src/identity.ts');
    expect(graph.files).not.toContain(SQLITE_STORE);
    expect(graph.files).not.toContain('packages/ledger/src/embedded-node.ts');
    expect(graph.external).not.toContain('better-sqlite3');
  });

  it('the same walk finds the store from an entry that does use it', () => {
    const graph = walk([join(repoRoot, 'packages/ledger/src/embedded-node.ts')]);
    expect(graph.files).toContain(SQLITE_STORE);
    expect(graph.external).toContain('better-sqlite3');
  });

  it('the transport reaches no ledger code at all', () => {
    const graph = walk([join(repoRoot, 'packages/mesh/src/index.ts')]);
    expect([...graph.files].filter((f) => f.startsWith('packages/ledger/'))).toEqual([]);
    expect([...graph.files].filter((f) => f.startsWith('packages/peer/'))).toEqual([]);
  });
});

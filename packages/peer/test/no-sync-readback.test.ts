/**
 * Issue 19: a synchronous readback (`dataSync`, `arraySync`, `bufferSync`)
 * stalls a GPU pipeline, and on tfjs-webgpu (the backend a browser with
 * WebGPU picks first) it reads through a canvas that returned zeros and then
 * lost the device: every later step threw, and the page sat at step 1 with
 * loss 0. The step, serving, scoring, evaluation and export paths read with
 * `await tensor.data()` instead. This scan fails if a sync read comes back
 * anywhere in packages/peer/src (the allow-list is empty on purpose).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src', import.meta.url));
const SYNC_READ = /\.\s*(dataSync|arraySync|bufferSync)\s*(<[^>]*>)?\s*\(/g;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

export function syncReadbacks(text: string): string[] {
  const hits: string[] = [];
  text.split('\n').forEach((line, i) => {
    const code = line.replace(/\/\/.*$/, '');
    for (const m of code.matchAll(SYNC_READ)) hits.push(`${i + 1}: ${m[1]}`);
  });
  return hits;
}

describe('no synchronous tensor readback in packages/peer/src', () => {
  it('the scan finds the forms it must refuse', () => {
    expect(syncReadbacks('const v = t.dataSync();')).toEqual(['1: dataSync']);
    expect(syncReadbacks('tf.sum(g, 0)\n  .arraySync()')).toEqual(['2: arraySync']);
    expect(syncReadbacks('x.bufferSync<tf.Rank.R2>()')).toEqual(['1: bufferSync']);
    expect(syncReadbacks('// dataSync() is not used here\nawait t.data();')).toEqual([]);
  });

  it('no source file reads a tensor synchronously', () => {
    const files = sources(SRC);
    expect(files.length).toBeGreaterThan(10);
    const found: Record<string, string[]> = {};
    for (const file of files) {
      const hits = syncReadbacks(readFileSync(file, 'utf8'));
      if (hits.length > 0) found[relative(SRC, file)] = hits;
    }
    expect(found).toEqual({});
  });
});

import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));

/** URL prefix (under the app's base) where tfjs-backend-wasm's binaries are served; main.tsx passes it to the Peer. */
export const TFJS_WASM_PREFIX = 'tfjs-wasm/';

/** The folder holding tfjs-backend-wasm's .wasm files (a dependency of packages/peer). */
function tfjsWasmDir(): string | null {
  try {
    const requireFromPeer = createRequire(join(here, '../../packages/peer/package.json'));
    return dirname(requireFromPeer.resolve('@tensorflow/tfjs-backend-wasm'));
  } catch {
    return null;
  }
}

/**
 * tfjs-backend-wasm fetches its .wasm binaries at run time from a URL prefix
 * (setWasmPaths). The bundler does not see those fetches, so this plugin
 * serves them in dev and copies them into the build under TFJS_WASM_PREFIX.
 */
function tfjsWasmFiles(): Plugin {
  const dir = tfjsWasmDir();
  const files = dir ? readdirSync(dir).filter((f) => f.endsWith('.wasm')) : [];
  return {
    name: 'peerbench-tfjs-wasm',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = (req.url ?? '').split('?')[0] ?? '';
        const name = path.startsWith(`/${TFJS_WASM_PREFIX}`) ? path.slice(TFJS_WASM_PREFIX.length + 1) : null;
        if (!dir || !name || !files.includes(name)) return next();
        res.setHeader('Content-Type', 'application/wasm');
        res.end(readFileSync(join(dir, name)));
      });
    },
    generateBundle() {
      if (!dir) this.warn('tfjs-backend-wasm not found; the WASM backend will be unavailable');
      for (const name of files) {
        this.emitFile({
          type: 'asset',
          fileName: `${TFJS_WASM_PREFIX}${name}`,
          source: readFileSync(join(dir!, name)),
        });
      }
    },
  };
}

/**
 * simple-peer (packages/mesh's WebRTC wrapper) and its readable-stream were written
 * for browserify-era bundlers: they import Node's `events`, `buffer` and use
 * `process`/`global`. These point those imports at the browser packages of the
 * same names; src/node-globals.ts installs `process` and `Buffer` globals.
 */
function nodeShims(): Record<string, string> {
  const fromWeb = createRequire(join(here, 'package.json'));
  const simplePeer = realpathSync(join(here, '../../packages/mesh/node_modules/simple-peer/package.json'));
  const fromSimplePeer = createRequire(simplePeer);
  return {
    events: fromWeb.resolve('events/'),
    process: fromWeb.resolve('process/browser.js'),
    buffer: fromSimplePeer.resolve('buffer/'),
  };
}

/**
 * `pnpm dev` (scripts/dev.mjs) starts a signaling server and sets
 * PEERBENCH_DEV_SERVER to its http URL; Vite proxies the signaling socket and
 * the server's HTTP routes there, so the app's default "same origin" server
 * URL works under hot reload too.
 */
function devProxy() {
  const target = process.env.PEERBENCH_DEV_SERVER;
  if (!target) return undefined;
  return {
    '/ws': { target: target.replace(/^http/, 'ws'), ws: true },
    '/ledger': { target },
    '/health': { target },
    '/config': { target },
    '/metrics': { target },
  };
}

export default defineConfig(({ mode }) => {
  // The e2e build adds the test page (e2e-pages/harness.html: mesh, ledger replay, training) and
  // goes to its own folder, so the production build never ships it.
  const e2e = mode === 'e2e';
  const input: Record<string, string> = { main: resolve(here, 'index.html') };
  if (e2e) {
    for (const page of readdirSync(resolve(here, 'e2e-pages')).filter((f) => f.endsWith('.html'))) {
      input[page.replace(/\.html$/, '')] = resolve(here, 'e2e-pages', page);
    }
  }
  return {
    plugins: [react(), tfjsWasmFiles()],
    resolve: { alias: nodeShims() },
    define: { global: 'globalThis' },
    build: {
      outDir: e2e ? 'dist-e2e' : 'dist',
      emptyOutDir: true,
      chunkSizeWarningLimit: 4096,
      rollupOptions: { input },
    },
    // The Peer's worker (src/peer.worker.ts) is a module worker: ES output lets it
    // keep lazy chunks (the WebGPU backend, idb-keyval) like the page does.
    worker: { format: 'es' as const },
    server: { proxy: devProxy() },
  };
});

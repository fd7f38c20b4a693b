#!/usr/bin/env node
// `pnpm dev`: a signaling server on 127.0.0.1 (port PEERBENCH_DEV_SERVER_PORT,
// default 8788) and Vite with hot reload in front of it. vite.config.ts
// proxies /ws, /ledger, /health and /metrics to that server, so the app's
// default "same origin" server URL works unchanged.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { relaySignals, startServerProcess, webDir } from './lib.mjs';

const serverPort = process.env.PEERBENCH_DEV_SERVER_PORT ?? '8788';
const server = startServerProcess(['--host', '127.0.0.1', '--port', serverPort], { prefix: '[server] ' });
const serverUrl = await server.url;
const vite = spawn(join(webDir, 'node_modules/.bin/vite'), process.argv.slice(2), {
  cwd: webDir,
  stdio: 'inherit',
  env: { ...process.env, PEERBENCH_DEV_SERVER: serverUrl },
});
relaySignals([server.child, vite]);

#!/usr/bin/env node
// `pnpm start` (after scripts/setup.sh): builds the web app if any source is
// newer than the last build, then runs the signaling server on one port,
// serving the app, the signaling WebSocket and the ledger. Port and host come
// from --port/--host or PORT/HOST (defaults 8787 and 127.0.0.1 — pass
// --host 0.0.0.0 to let other machines on your network join).
import { buildIfNeeded, relaySignals, startServerProcess } from './lib.mjs';

const argv = process.argv.slice(2);
if (argv.includes('--help')) {
  console.log(`usage: npm start [-- --host HOST] [--port PORT] [--rebuild]
  builds the web app when its sources changed, then serves it, the signaling
  WebSocket and the ledger on one port (env: HOST, PORT; defaults 127.0.0.1, 8787)`);
  process.exit(0);
}
const flag = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : fallback;
};
const port = flag('port', process.env.PORT ?? '8787');
const host = flag('host', process.env.HOST ?? '127.0.0.1');

const staticDir = buildIfNeeded({ mode: 'production', force: argv.includes('--rebuild') });
const server = startServerProcess(['--host', host, '--port', port, '--static', staticDir]);
relaySignals([server.child]);
server.url.then(
  (url) => {
    console.log(
      `\n  peerbench is running. Open ${url}/ in Chromium, Chrome, Edge or Firefox and press Contribute.`,
    );
    console.log(
      '  Share the link the page shows to bring other tabs or devices into the same room. Ctrl-C stops.\n',
    );
  },
  (err) => {
    console.error(String(err));
    process.exitCode = 1;
  },
);

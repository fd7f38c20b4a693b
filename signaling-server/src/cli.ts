/**
 * `tsx src/cli.ts --host 127.0.0.1 --port 8787 [--static DIR] [--data-dir DIR]` (`--help`: every flag):
 * opens the ledger (ledger-backend.ts: by default SQLite in the data dir,
 * producing blocks; with --nats a clustered instance on NATS JetStream),
 * starts the signaling server with the ledger mounted, prints its URL, and
 * shuts both down gracefully on SIGTERM/SIGINT (server first, so no tx is
 * accepted after the ledger stopped).
 *
 * `--print-peer-id` prints this instance's key (creating <data-dir>/producer.key
 * or --key-file when missing) and exits: what a clustered genesis lists.
 */
import {
  buildServerFromEnv,
  CLI_USAGE,
  type LedgerSettings,
  ledgerSettingsFromEnv,
  wantsHelp,
  wantsPeerId,
} from './env.js';
import { instanceIdentity, type LedgerBackend, openLedgerBackend } from './ledger-backend.js';
import type { SignalingServer } from './server.js';

/**
 * How long shutdown waits for the ledger: a clustered one whose NATS nodes are
 * all gone waits out request timeouts (lease release, consumers); its lease
 * then expires by itself. The embedded one finishes its block well within.
 */
const LEDGER_STOP_BOUND_MS = 8_000;

async function stopWithin(ledger: LedgerBackend, boundMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bounded = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), boundMs);
  });
  const r = await Promise.race([ledger.stop().then(() => 'stopped' as const), bounded]);
  clearTimeout(timer);
  if (r === 'timeout')
    console.error(`ledger: not stopped after ${boundMs} ms (NATS unreachable?); exiting anyway`);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (wantsHelp(argv)) {
    console.log(CLI_USAGE);
    return;
  }
  let settings: LedgerSettings;
  try {
    settings = ledgerSettingsFromEnv(argv, process.env);
  } catch (err) {
    console.error(`${(err as Error).message}\n${CLI_USAGE}`);
    process.exit(2);
  }
  if (wantsPeerId(argv)) {
    if (settings.keyFile === null) {
      console.error('--print-peer-id needs --data-dir DIR or --key-file FILE (where the key is kept)');
      process.exit(2);
    }
    console.log((await instanceIdentity(settings.keyFile)).peerId);
    return;
  }
  const log = (line: string) => console.error(line);
  let ledger: LedgerBackend;
  try {
    ledger = await openLedgerBackend(settings, { log });
  } catch (err) {
    console.error(`ledger: ${(err as Error).message}`);
    process.exit((err as { code?: unknown }).code === 'invalid-options' ? 2 : 1);
  }
  let server: SignalingServer;
  try {
    server = buildServerFromEnv({
      ledger: ledger.hook,
      ...(ledger.roomBridge ? { roomBridge: ledger.roomBridge } : {}),
      log,
    });
  } catch (err) {
    console.error(`${(err as Error).message}\n${CLI_USAGE}`);
    await ledger.stop();
    process.exit(2);
  }
  await server.start();
  console.error(ledger.describe());
  const staticDir = server.options.staticDir;
  console.log(`peerbench signaling server listening on ${server.url}`);
  console.log(
    `  http: ${server.httpUrl}  (/health, /metrics${staticDir ? `, web app from ${staticDir}` : ''})`,
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`${signal}: shutting down`);
    server
      .stop()
      .then(() => stopWithin(ledger, LEDGER_STOP_BOUND_MS))
      .then(
        () => process.exit(0),
        (err: unknown) => {
          console.error(`shutdown failed: ${(err as Error).message}`);
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(`failed to start: ${(err as Error).message}`);
  process.exit(1);
});

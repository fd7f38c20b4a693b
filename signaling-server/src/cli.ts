/**
 * `tsx src/cli.ts --host 127.0.0.1 --port 8787 [--static DIR] [--data-dir DIR]` (`--help`: every flag):
 * opens the ledger (SQLite in the data dir, producing blocks), starts the
 * signaling server with the ledger mounted, prints its URL, and shuts both
 * down gracefully on SIGTERM/SIGINT (server first, so no tx is accepted after
 * the producer stopped).
 */
import { SERVER_MAX_REGISTRATIONS_PER_BLOCK, SERVER_REGISTRATION_WORK_BITS } from '@peerbench/ledger';
import { type EmbeddedLedger, openEmbeddedLedger } from '@peerbench/ledger/embedded';
import {
  buildServerFromEnv,
  CLI_USAGE,
  type LedgerSettings,
  ledgerSettingsFromEnv,
  wantsHelp,
} from './env.js';
import type { SignalingServer } from './server.js';

async function main(): Promise<void> {
  if (wantsHelp(process.argv.slice(2))) {
    console.log(CLI_USAGE);
    return;
  }
  let settings: LedgerSettings;
  try {
    settings = ledgerSettingsFromEnv(process.argv.slice(2), process.env);
  } catch (err) {
    console.error(`${(err as Error).message}\n${CLI_USAGE}`);
    process.exit(2);
  }
  const ledger: EmbeddedLedger = await openEmbeddedLedger({
    ...(settings.dataDir ? { dataDir: settings.dataDir } : {}),
    // A data dir from an older ledger format cannot be continued: keep it
    // (renamed, nothing deleted) and start a new chain rather than refuse to start.
    onIncompatibleStore: 'archive',
    onArchived: (to, reason) =>
      console.error(
        `ledger: the data dir could not be continued (${reason}); moved it to ${to}, starting a new chain`,
      ),
    ...(settings.blockIntervalMs !== undefined ? { blockIntervalMs: settings.blockIntervalMs } : {}),
    // A new chain's sybil defence: registrations cost proof of work and a block
    // takes only so many (the rest wait in the mempool). w_ii is left out of R
    // (Bittensor's masked diagonal): measured in apps/swarm, a self-dealer gained
    // 1.4x its honest twin's stake when self-weights counted and 0.4-0.85x when
    // they did not (docs/results/ranking-fidelity.md). Used only when the store is new.
    genesis: {
      registrationWorkBits: SERVER_REGISTRATION_WORK_BITS,
      maxRegistrationsPerBlock: SERVER_MAX_REGISTRATIONS_PER_BLOCK,
      selfWeightsInRank: false,
    },
  });
  let server: SignalingServer;
  try {
    server = buildServerFromEnv({ ledger: ledger.hook, log: (line) => console.error(line) });
  } catch (err) {
    console.error(`${(err as Error).message}\n${CLI_USAGE}`);
    await ledger.stop();
    process.exit(2);
  }
  await server.start();
  console.error(
    `ledger: ${settings.dataDir ? `SQLite in ${settings.dataDir}` : 'in memory'}, producer ${ledger.identity.peerId.slice(0, 12)}…`,
  );
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
      .then(() => ledger.stop())
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

/**
 * `tsx src/cli.ts --host 127.0.0.1 --port 8787 [--static DIR]`: starts the
 * signaling server, prints its URL, shuts down gracefully on SIGTERM/SIGINT.
 */
import { buildServerFromEnv, CLI_USAGE } from './env.js';
import type { SignalingServer } from './server.js';

async function main(): Promise<void> {
  let server: SignalingServer;
  try {
    server = buildServerFromEnv({ log: (line) => console.error(line) });
  } catch (err) {
    console.error(`${(err as Error).message}\n${CLI_USAGE}`);
    process.exit(2);
  }
  await server.start();
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
    server.stop().then(
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

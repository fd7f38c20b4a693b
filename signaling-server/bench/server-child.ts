/**
 * The server under load, in its own process so the RSS the benchmark reports
 * is the server's alone. Prints one JSON line with its URLs, stops on SIGTERM.
 *
 * Every load-test client comes from 127.0.0.1, so by default the per-address
 * limits and the per-connection message rate are lifted (the load benchmark
 * measures relaying, not refusals: with few clients each one sends more than
 * the default 100 msgs/s, and a closed connection would silently empty the
 * saturated phase). BENCH_SERVER_OPTIONS (JSON) replaces these options, field
 * by field; the abuse benchmark (bench/abuse.ts) passes `{}`-like sets to keep
 * the defaults.
 *
 * BENCH_NATS_URL (comma-separated) and BENCH_INSTANCE_ID make it one clustered
 * instance: its rooms span instances through a NatsRoomBridge (subjects
 * `bench.rooms.*`), as the CLI's `--nats` does, without a ledger.
 */
import { createSignalingServer, type SignalingServerOptions } from '../src/index.js';
import { NatsRoomBridge } from '../src/room-bridge.js';

const LIFTED = { ratePerS: 1_000_000, burst: 1_000_000 };
const loadOptions: SignalingServerOptions = {
  maxConnectionsPerIp: 10_000,
  maxConnections: 10_000,
  maxPendingSocketsPerIp: 10_000,
  messageRatePerS: 1_000_000,
  messageBurst: 1_000_000,
  addressBudgets: { connection: LIFTED, message: LIFTED, join: LIFTED, tx: LIFTED },
};
const given = process.env.BENCH_SERVER_OPTIONS;
const options: SignalingServerOptions = given ? (JSON.parse(given) as SignalingServerOptions) : loadOptions;

const natsUrl = process.env.BENCH_NATS_URL;
const bridge = natsUrl
  ? await NatsRoomBridge.open({
      servers: natsUrl.split(','),
      instanceId: process.env.BENCH_INSTANCE_ID ?? `bench-${process.pid}`,
      prefix: 'bench.rooms',
      onInvalid: (subject, reason) =>
        process.stderr.write(`[server-child] invalid on ${subject}: ${reason}\n`),
    })
  : undefined;

const server = createSignalingServer({
  ...options,
  host: '127.0.0.1',
  port: 0,
  ...(bridge ? { roomBridge: bridge } : {}),
});
await server.start();
process.stdout.write(`${JSON.stringify({ url: server.url, httpUrl: server.httpUrl, pid: process.pid })}\n`);
process.on('SIGTERM', () => {
  server
    .stop()
    .then(() => bridge?.stop())
    .then(() => process.exit(0));
});

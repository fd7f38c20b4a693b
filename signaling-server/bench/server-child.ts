/**
 * The server under load, in its own process so the RSS the benchmark reports
 * is the server's alone. Prints one JSON line with its URLs, stops on SIGTERM.
 *
 * Every load-test client comes from 127.0.0.1, so by default the per-address
 * limits are lifted (the load benchmark measures relaying, not refusals).
 * BENCH_SERVER_OPTIONS (JSON) replaces these options, field by field; the
 * abuse benchmark (bench/abuse.ts) passes `{}`-like sets to keep the defaults.
 */
import { createSignalingServer, type SignalingServerOptions } from '../src/index.js';

const LIFTED = { ratePerS: 1_000_000, burst: 1_000_000 };
const loadOptions: SignalingServerOptions = {
  maxConnectionsPerIp: 10_000,
  maxConnections: 10_000,
  maxPendingSocketsPerIp: 10_000,
  addressBudgets: { connection: LIFTED, message: LIFTED, join: LIFTED, tx: LIFTED },
};
const given = process.env.BENCH_SERVER_OPTIONS;
const options: SignalingServerOptions = given ? (JSON.parse(given) as SignalingServerOptions) : loadOptions;

const server = createSignalingServer({ ...options, host: '127.0.0.1', port: 0 });
await server.start();
process.stdout.write(`${JSON.stringify({ url: server.url, httpUrl: server.httpUrl, pid: process.pid })}\n`);
process.on('SIGTERM', () => {
  server.stop().then(() => process.exit(0));
});

/**
 * The server under load, in its own process so the RSS the benchmark reports
 * is the server's alone. Prints one JSON line with its URLs, stops on SIGTERM.
 */
import { createSignalingServer } from '../src/index.js';

const server = createSignalingServer({
  host: '127.0.0.1',
  port: 0,
  // Every load-test client comes from 127.0.0.1.
  maxConnectionsPerIp: 10_000,
  maxConnections: 10_000,
});
await server.start();
process.stdout.write(`${JSON.stringify({ url: server.url, httpUrl: server.httpUrl, pid: process.pid })}\n`);
process.on('SIGTERM', () => {
  server.stop().then(() => process.exit(0));
});

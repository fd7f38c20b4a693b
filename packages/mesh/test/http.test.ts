/**
 * fetchGenesis over real HTTP servers on 127.0.0.1: with several signaling
 * servers (clustered instances share one genesis) each is asked in turn, and
 * one that is down, has no ledger, answers junk or never answers is skipped.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchGenesis, GenesisFetchError } from '../src/http.js';

interface Genesis {
  chainId: string;
}
function parse(json: unknown): Genesis {
  const g = json as Partial<Genesis> | null;
  if (typeof g?.chainId !== 'string') throw new TypeError('not a genesis');
  return { chainId: g.chainId };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((r) => {
          s.closeAllConnections();
          s.close(() => r());
        }),
    ),
  );
});

/** A server whose /ledger/genesis answers `status` and `body` (or never, with body 'hang'); counts requests. */
async function server(status: number, body: string): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const s = createServer((req, res) => {
    if (req.url !== '/ledger/genesis') {
      res.writeHead(404).end();
      return;
    }
    hits++;
    if (body === 'hang') return;
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return { url: `ws://127.0.0.1:${(s.address() as AddressInfo).port}/ws`, hits: () => hits };
}

/** A URL nothing listens on (a port that was just free). */
async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return `ws://127.0.0.1:${port}/ws`;
}

describe('fetchGenesis with several servers', () => {
  it('takes the genesis from the first server that answers one, and asks no further', async () => {
    const good = await server(200, JSON.stringify({ chainId: 'c1' }));
    const later = await server(200, JSON.stringify({ chainId: 'c2' }));
    expect(await fetchGenesis([good.url, later.url], parse)).toEqual({ chainId: 'c1' });
    expect(later.hits()).toBe(0);
  });

  it('skips a server that is down, one without a ledger, one answering junk and one that does not answer', async () => {
    const dead = await deadUrl();
    const noLedger = await server(404, '');
    const junk = await server(200, '{"not":"a genesis"}');
    const notJson = await server(200, '<html>');
    const silent = await server(200, 'hang');
    const good = await server(200, JSON.stringify({ chainId: 'c1' }));
    const list = [dead, noLedger.url, junk.url, notJson.url, silent.url, good.url].join(',');
    expect(await fetchGenesis(list, parse, 300)).toEqual({ chainId: 'c1' });
    expect([noLedger, junk, notJson, silent].map((s) => s.hits())).toEqual([1, 1, 1, 1]);
  });

  it('names every failure when no server gives one', async () => {
    const dead = await deadUrl();
    const noLedger = await server(503, '');
    const err = await fetchGenesis([dead, noLedger.url], parse).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GenesisFetchError);
    expect((err as GenesisFetchError).code).toBe('no-ledger');
    expect((err as Error).message).toContain(new URL(dead.replace('ws:', 'http:')).host);
    expect((err as Error).message).toContain('answered 503');
  });

  it("with one server throws that server's own error, parse's included", async () => {
    const junk = await server(200, '{}');
    await expect(fetchGenesis(junk.url, parse)).rejects.toThrow(TypeError);
    const noLedger = await server(404, '');
    await expect(fetchGenesis(noLedger.url, parse)).rejects.toBeInstanceOf(GenesisFetchError);
  });
});

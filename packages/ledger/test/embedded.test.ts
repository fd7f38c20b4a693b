import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openEmbeddedLedger } from '../src/embedded-node.js';
import { createRegisterTx } from '../src/index.js';
import { identities } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ledger-embedded-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('openEmbeddedLedger', () => {
  it('keeps the producer key and the chain across restarts in its data dir', async () => {
    const a = await openEmbeddedLedger({
      dataDir: dir,
      autoStart: false,
      genesis: { chainId: 'embedded-test' },
    });
    const [k] = await identities(1, 31);
    expect(await a.hook.submitTx(await createRegisterTx(k!, a.producer.state().genesisHash))).toEqual({
      ok: true,
    });
    await a.producer.produceBlock();
    await a.producer.produceBlock();
    const root = a.producer.state().stateRoot;
    const key = a.identity.peerId;
    await a.stop();
    expect(statSync(join(dir, 'producer.key')).mode & 0o777).toBe(0o600);

    const b = await openEmbeddedLedger({ dataDir: dir, autoStart: false });
    expect(b.identity.peerId).toBe(key);
    expect(b.producer.genesis.chainId).toBe('embedded-test');
    expect(b.producer.height).toBe(2);
    expect(b.producer.state().stateRoot).toBe(root);
    expect(b.producer.state().peers).toEqual([k!.peerId]);
    await b.producer.produceBlock();
    expect(b.producer.height).toBe(3);
    await b.stop();
  });

  it('archives a data dir whose chain no longer verifies (store-incompatible) when asked, and starts a new chain', async () => {
    const d = join(dir, 'incompatible');
    const a = await openEmbeddedLedger({ dataDir: d, autoStart: false });
    const [k] = await identities(1, 32);
    await a.hook.submitTx(await createRegisterTx(k!, a.producer.state().genesisHash));
    await a.producer.produceBlock();
    await a.producer.produceBlock();
    const oldKey = a.identity.peerId;
    await a.stop();
    // What an older ledger format looks like to this one: a stored block that does not verify.
    const db = new Database(join(d, 'ledger.db'));
    const row = db.prepare('SELECT json FROM blocks WHERE height = 1').get() as { json: string };
    const block = JSON.parse(row.json) as { stateRoot: string };
    block.stateRoot = block.stateRoot.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    db.prepare('UPDATE blocks SET json = ? WHERE height = 1').run(JSON.stringify(block));
    db.prepare('DELETE FROM snapshot').run();
    db.close();

    await expect(openEmbeddedLedger({ dataDir: d, autoStart: false })).rejects.toMatchObject({
      code: 'store-incompatible',
    });
    const told: string[] = [];
    const b = await openEmbeddedLedger({
      dataDir: d,
      autoStart: false,
      onIncompatibleStore: 'archive',
      onArchived: (to) => told.push(to),
    });
    expect(told).toHaveLength(1);
    expect(existsSync(join(told[0]!, 'ledger.db'))).toBe(true);
    expect(readdirSync(dir).filter((f) => f.startsWith('incompatible.incompatible-'))).toHaveLength(1);
    expect(b.producer.height).toBe(0);
    expect(b.identity.peerId).not.toBe(oldKey);
    await b.producer.produceBlock();
    expect(b.producer.height).toBe(1);
    await b.stop();
  });

  it('runs in memory with a fresh key and produces on its timer', async () => {
    const m = await openEmbeddedLedger({ blockIntervalMs: 5 });
    await new Promise<void>((resolve) => {
      const off = m.producer.onBlock(({ block }) => {
        if (block.height >= 3) {
          off();
          resolve();
        }
      });
    });
    await m.stop();
    expect(m.store.kind).toBe('memory');
  });
});

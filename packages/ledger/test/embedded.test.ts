import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

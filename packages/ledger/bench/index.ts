/**
 * Ledger benchmark → $PEERBENCH_BENCH_DIR/ledger.json (default <repo>/bench-results/).
 *  1. Validate and apply one block of 4,096 set-weights txs (32 entries each)
 *     with 4,096 registered peers: the pure state transition, and the full
 *     produceBlock (plus signing and a SQLite FULL-sync commit). Target < 200 ms.
 *     Signatures are verified at admission and timed separately.
 *  2. Ed25519 verification rate, WebCrypto vs @noble/ed25519, same messages.
 *  3. Light-client replay of 1,000 blocks (signatures included).
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as noble from '@noble/ed25519';
import { type Identity, identityFromSecretKey, verifySignature } from '@peerbench/protocol';
import { benchEntry } from '@peerbench/protocol/bench-entry';
import {
  BlockProducer,
  boundedRowToward,
  createRegisterTx,
  createSetWeightsTx,
  defaultGenesis,
  LightClient,
  MemoryStore,
  parseBlock,
  replayBlockBody,
  rowFromPairs,
  type SetWeightsTxJson,
  txRoot,
  WEIGHT_SCALE,
} from '../src/index.js';
import { SqliteStore } from '../src/sqlite-store.js';

const { log, writeResult } = benchEntry(import.meta.url);

const PEERS = 4096;
const ENTRIES = 32;
const ROUNDS = 5;
const REPLAY_BLOCKS = 1000;
const REPLAY_PEERS = 256;
const REPLAY_TXS_PER_BLOCK = 16;
const SIG_SAMPLES = 2000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

async function keys(n: number, tag: number): Promise<Identity[]> {
  const out: Identity[] = [];
  for (let i = 0; i < n; i++) {
    const s = new Uint8Array(32).fill(i & 0xff);
    s[0] = tag;
    s[1] = i >> 8;
    out.push(await identityFromSecretKey(s));
  }
  return out;
}

/** A 32-entry row within ε = 0.25 of the self row: 0.8 on self, 0.2 spread over 31 pseudo-random peers. */
function row(uid: number, n: number, round: number): Array<[number, number]> {
  const others = new Set<number>();
  for (let k = 1; others.size < ENTRIES - 1; k++) {
    const j = (uid * 7919 + k * 104_729 + round * 31) % n;
    if (j !== uid) others.add(j);
  }
  const each = Math.floor((0.2 * WEIGHT_SCALE) / (ENTRIES - 1));
  const pairs = [...others].map((j) => [j, each] as [number, number]);
  pairs.push([uid, WEIGHT_SCALE - each * (ENTRIES - 1)]);
  return pairs.sort((a, b) => a[0] - b[0]);
}

async function blockBench() {
  log(`generating ${PEERS} identities`);
  const producerId = (await keys(1, 250))[0]!;
  const peers = await keys(PEERS, 11);
  const dir = mkdtempSync(join(tmpdir(), 'ledger-bench-'));
  const store = new SqliteStore(join(dir, 'bench.db'));
  // Time the durable write separately (JSON of ~2.7 MB + a FULL-sync SQLite commit).
  const persist: number[] = [];
  const append = store.appendBlock.bind(store);
  store.appendBlock = async (...args) => {
    const t0 = performance.now();
    await append(...args);
    persist.push(performance.now() - t0);
  };
  let clock = 1_700_000_000_000;
  const genesis = defaultGenesis(producerId.peerId, { faucetRegistrations: PEERS });
  const producer = await BlockProducer.open({
    store,
    identity: producerId,
    genesis,
    now: () => (clock += 2000),
  });
  log('registering');
  for (const k of peers) {
    const r = await producer.submitTx(await createRegisterTx(k, producer.state().genesisHash));
    if (!r.ok) throw new Error(r.message);
  }
  await producer.produceBlock();

  const transition: number[] = [];
  const produce: number[] = [];
  const admissionPerTx: number[] = [];
  let blockBytes = 0;
  for (let r = 1; r <= ROUNDS; r++) {
    log(`round ${r}/${ROUNDS}: signing ${PEERS} set-weights txs`);
    const txs: SetWeightsTxJson[] = [];
    for (let uid = 0; uid < PEERS; uid++)
      txs.push(
        await createSetWeightsTx(peers[uid]!, uid, r, row(uid, PEERS, r), producer.state().genesisHash),
      );
    // Admission (parse + state checks + signature verification), concurrently as a server would.
    let t = performance.now();
    const results = await Promise.all(txs.map((tx) => producer.submitTx(tx)));
    admissionPerTx.push((performance.now() - t) / PEERS);
    const bad = results.find((x) => !x.ok);
    if (bad) throw new Error(JSON.stringify(bad));
    // Pure state transition on a copy: re-check + apply 4,096 rows, R, inflation, τ, tx root, state root.
    const base = producer.ledgerState;
    const parsed = parseBlock({
      height: base.height + 1,
      parentHash: base.headHash,
      timestampMs: clock,
      txRoot: '0'.repeat(64),
      stateRoot: '0'.repeat(64),
      producer: producerId.peerId,
      txs,
      signature: '0'.repeat(128),
    });
    t = performance.now();
    const next = base.clone();
    await replayBlockBody(next, parsed, false);
    txRoot(parsed.txs.map((x) => x.hash));
    next.root();
    transition.push(performance.now() - t);
    // Full production: the same work plus signing, JSON and a durable SQLite commit.
    t = performance.now();
    const { block } = await producer.produceBlock();
    produce.push(performance.now() - t);
    blockBytes = JSON.stringify(block).length;
    if (block.txs.length !== PEERS) throw new Error(`block carried ${block.txs.length} txs`);
  }
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    peers: PEERS,
    entriesPerRow: ENTRIES,
    txsPerBlock: PEERS,
    rounds: ROUNDS,
    stateTransitionMs: { median: round(median(transition)), all: transition.map((x) => round(x)) },
    produceBlockSqliteMs: { median: round(median(produce)), all: produce.map((x) => round(x)) },
    persistSqliteMs: { median: round(median(persist.slice(1))), all: persist.slice(1).map((x) => round(x)) },
    targetMs: 200,
    meetsTarget: median(transition) < 200,
    admissionMsPerTx: round(median(admissionPerTx), 4),
    blockJsonBytes: blockBytes,
  };
}

async function signatureBench() {
  const id = (await keys(1, 3))[0]!;
  const msgs = Array.from({ length: SIG_SAMPLES }, (_, i) =>
    new TextEncoder().encode(`set-weights ${i} ${'x'.repeat(300)}`),
  );
  const sigs = await Promise.all(msgs.map((m) => id.sign(m)));
  log(`verifying ${SIG_SAMPLES} signatures with WebCrypto and noble`);
  let t = performance.now();
  const okW = await Promise.all(msgs.map((m, i) => verifySignature(id.publicKey, m, sigs[i]!)));
  const webcryptoMs = performance.now() - t;
  t = performance.now();
  let okN = 0;
  for (let i = 0; i < msgs.length; i++) if (noble.verify(sigs[i]!, msgs[i]!, id.publicKey)) okN++;
  const nobleMs = performance.now() - t;
  if (!okW.every(Boolean) || okN !== SIG_SAMPLES) throw new Error('verification failed');
  return {
    samples: SIG_SAMPLES,
    webcryptoPerSec: Math.round(SIG_SAMPLES / (webcryptoMs / 1000)),
    noblePerSec: Math.round(SIG_SAMPLES / (nobleMs / 1000)),
    webcryptoOverNoble: round(nobleMs / webcryptoMs),
  };
}

async function replayBench() {
  log(
    `building a ${REPLAY_BLOCKS}-block chain (${REPLAY_PEERS} peers, ${REPLAY_TXS_PER_BLOCK} set-weights/block)`,
  );
  const producerId = (await keys(1, 251))[0]!;
  const peers = await keys(REPLAY_PEERS, 12);
  const genesis = defaultGenesis(producerId.peerId);
  const store = new MemoryStore();
  let clock = 1_700_000_000_000;
  const producer = await BlockProducer.open({
    store,
    identity: producerId,
    genesis,
    now: () => (clock += 2000),
  });
  for (const k of peers) await producer.submitTx(await createRegisterTx(k, producer.state().genesisHash));
  await producer.produceBlock();
  let txCount = 0;
  for (let h = 2; h <= REPLAY_BLOCKS; h++) {
    const s = producer.state();
    for (let k = 0; k < REPLAY_TXS_PER_BLOCK; k++) {
      const uid = (h * REPLAY_TXS_PER_BLOCK + k) % REPLAY_PEERS;
      // 8-entry targets, stepped within ε so every tx is valid (as a well-behaved peer would).
      const target = row(uid, REPLAY_PEERS, h % 3).slice(0, 8);
      const pairs = boundedRowToward(rowFromPairs(s.weights[uid]!), target, s.stepBoundL2);
      const r = await producer.submitTx(
        await createSetWeightsTx(peers[uid]!, uid, s.nonces[uid]! + 1, pairs, s.genesisHash),
      );
      if (r.ok) txCount++;
    }
    await producer.produceBlock();
  }
  const blocks = await store.blocksFrom(1, REPLAY_BLOCKS);
  log('replaying with a light client');
  const client = new LightClient(genesis);
  const t = performance.now();
  for (const b of blocks) await client.apply(b);
  const ms = performance.now() - t;
  if (client.state.root() !== producer.state().stateRoot) throw new Error('replay diverged');
  return {
    blocks: REPLAY_BLOCKS,
    peers: REPLAY_PEERS,
    txs: txCount,
    totalMs: round(ms),
    msPerBlock: round(ms / REPLAY_BLOCKS, 3),
    blocksPerSec: Math.round(REPLAY_BLOCKS / (ms / 1000)),
  };
}

const result = {
  package: '@peerbench/ledger',
  node: process.version,
  // Wall-clock figures depend on what else runs: record the machine's load alongside.
  cpus: availableParallelism(),
  loadAvg1mAtStart: round(loadavg()[0]!),
  when: new Date().toISOString(),
  block4096: await blockBench(),
  signatures: await signatureBench(),
  lightClientReplay: await replayBench(),
};
writeResult('ledger.json', result);
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);

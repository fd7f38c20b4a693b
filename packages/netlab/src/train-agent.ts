/**
 * A training participant inside a lab host, driven over IPC (train-peer.ts):
 * the Peer a tab runs (@peerbench/peer on tfjs WASM), on the network stack a
 * tab uses — `joinNetwork` (PeerMesh over wrtc, the ledger over the
 * signaling socket), `RemoteChain` verifying the server's blocks,
 * `LedgerChainClient` registering and submitting rows — with an MNIST shard
 * of its own. It runs the step loop itself and reports every step (loss,
 * which peers answered and which were stood in for, tensors alive) and every
 * link event of its mesh.
 */
import { parseGenesis, RemoteChain } from '@peerbench/ledger';
import { fetchGenesis, joinNetwork, type NetworkSession } from '@peerbench/mesh';
import { LedgerChainClient, MnistTask, Peer, skewedClassMix } from '@peerbench/peer';
import { generateIdentity } from '@peerbench/protocol';
import wrtc from '@roamhq/wrtc';
import WebSocket from 'ws';
import { type AgentStop, serveParent } from './agent-child.js';
import type { FromTrainAgent, StepRecord, ToTrainAgent, TrainAgentStart } from './train-agent-protocol.js';

const send = (msg: FromTrainAgent): void => {
  process.send?.(msg);
};

let network: NetworkSession | null = null;
let chain: RemoteChain | null = null;
let peer: Peer | null = null;
let stopping = false;

async function start(msg: TrainAgentStart): Promise<void> {
  const identity = await generateIdentity();
  const net = joinNetwork({
    signalingUrl: msg.signalingUrl,
    room: msg.room,
    identity,
    wrtc,
    WebSocket: WebSocket,
  });
  network = net;
  net.mesh.on('link', (info) => send({ type: 'link', info, atMs: Date.now() }));
  net.connection.subscribe((state) => send({ type: 'signaling', state, atMs: Date.now() }));
  await net.joined;
  const c = new RemoteChain({
    transport: net.ledger,
    genesis: await fetchGenesis(msg.signalingUrl, parseGenesis),
  });
  chain = c;
  c.start();
  const p = await Peer.create({
    identity,
    room: msg.room,
    task: () =>
      MnistTask.create({
        classMix: skewedClassMix(msg.favourites, msg.favouriteShare),
        shardSize: msg.shardSize,
        seed: msg.seed,
      }),
    storage: null,
    network: () => net.experts,
    chain: (id) => new LedgerChainClient(c, id),
    backend: { force: msg.backend },
    model: { ...msg.model, seed: msg.seed },
    step: msg.step,
    evalEverySteps: msg.evalEverySteps,
    pingEveryMs: 0,
    saveEverySteps: 0,
    autoRun: false,
  });
  peer = p;
  let registered = false;
  p.subscribe((snap) => {
    if (!registered && snap.uid !== null) {
      registered = true;
      send({ type: 'registered', uid: snap.uid, atMs: Date.now() });
    }
  });
  await p.start();
  send({ type: 'started', peerId: identity.peerId });
}

/** The step loop: one record per step, until untilMs or maxSteps (or stop). */
async function run(
  untilMs: number,
  maxSteps: number,
  pauseMs: number,
  evalEverySteps: number,
): Promise<void> {
  const p = peer;
  const trainer = p?.runtime;
  if (!p || !trainer) throw new Error('run before start');
  let steps = 0;
  while (!stopping && Date.now() < untilMs && steps < maxSteps) {
    const startMs = Date.now();
    const before = { late: trainer.answers.late, failed: trainer.answers.failed };
    const record: StepRecord = {
      step: trainer.stepCount + 1,
      startMs,
      endMs: startMs,
      loss: Number.NaN,
      standIns: [],
      remote: [],
      late: 0,
      failedCalls: 0,
      numTensors: 0,
      online: 0,
    };
    try {
      const r = await p.step();
      record.step = r.step;
      record.loss = r.loss;
      r.sources.forEach((source, slot) => {
        const id = trainer.slots[slot];
        if (!id || slot === 0) return;
        if (source === 'stand-in') record.standIns.push(id);
        else if (source === 'remote') record.remote.push(id);
      });
      const snap = p.getSnapshot();
      if (evalEverySteps > 0 && r.step % evalEverySteps === 0 && snap.accuracy !== null)
        record.accuracy = snap.accuracy;
    } catch (err) {
      record.error = String(err);
    }
    record.endMs = Date.now();
    record.late = trainer.answers.late - before.late;
    record.failedCalls = trainer.answers.failed - before.failed;
    record.numTensors = p.getSnapshot().stats?.numTensors ?? -1;
    record.online = network?.experts.peers().length ?? 0;
    send({ type: 'step', record });
    steps++;
    await new Promise((r) => setTimeout(r, pauseMs));
  }
  await p.settleBackwards();
  const snap = p.getSnapshot();
  send({ type: 'done', steps, stats: snap.stats ?? null, uid: snap.uid, height: chain?.height ?? 0 });
}

let evalEvery = 0;
let running: Promise<void> | null = null;

async function handle(m: Exclude<ToTrainAgent, AgentStop>): Promise<void> {
  switch (m.type) {
    case 'start':
      evalEvery = m.evalEverySteps;
      return start(m);
    case 'run':
      running = run(m.untilMs, m.maxSteps ?? Number.POSITIVE_INFINITY, m.pauseMs, evalEvery);
      return running;
  }
}

/** The loop ends after its current step; links close before exit, so coturn frees their allocations. */
async function stop(): Promise<void> {
  stopping = true;
  await running?.catch(() => undefined);
  await peer?.stop();
  chain?.stop();
  await network?.stop();
}

serveParent(handle, { stop: { run: stop, exitGraceMs: 50 } });

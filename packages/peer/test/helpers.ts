import { BlockProducer, defaultGenesis, LocalChain, MemoryStore } from '@peerbench/ledger';
import { type ExpertNetwork, InMemoryHub } from '@peerbench/mesh';
import { generateIdentity } from '@peerbench/protocol';
import { selectBackend } from '../src/backend.js';
import { ExpertServer, type ExpertServerOptions } from '../src/expert-server.js';
import { loadMnistDigits, MnistTask, skewedClassMix } from '../src/mnist-task.js';
import { Trainer } from '../src/trainer.js';
import { DEFAULT_STEP_OPTIONS, type ModelOptions, type StepOptions } from '../src/trainer-options.js';

let backendReady: Promise<unknown> | undefined;
/** WASM, as the issue asks for Node (≈5× the pure-JS CPU backend). */
export function useWasm(): Promise<unknown> {
  backendReady ??= selectBackend({ force: 'wasm' });
  return backendReady;
}

/** A small skewed MNIST shard: 95% on `favourites`. */
export async function skewedTask(favourites: number[], seed: number, shardSize = 300): Promise<MnistTask> {
  return MnistTask.create({
    digits: await loadMnistDigits(),
    classMix: skewedClassMix(favourites, 0.95),
    shardSize,
    evalPerClass: 30,
    seed,
  });
}

export const SMALL_MODEL: ModelOptions = {
  representationSize: 32,
  encoderHidden: 64,
  headHidden: 32,
  maxExperts: 4,
  topK: 2,
  learningRate: 0.003,
  balanceWeight: 0.1,
  standInHidden: 32,
  standInLearningRate: 0.003,
  standInMinSteps: 3,
  distillEverySteps: 1,
  // The student's replay memory on, as by default (smaller: the batches are 16 rows).
  studentReplayRows: 128,
  studentReplaySample: 32,
  combine: 'concat',
};

/** Small batches that wait for every answer (no grace): the steps do not depend on the machine's load. */
export const LOCKSTEP: StepOptions = {
  batchSize: 16,
  kMin: 99,
  graceMs: 0,
  forwardTimeoutMs: 2000,
  backwardTimeoutMs: 2000,
  wireDtype: 'fp32',
};

/** The real ledger in process: a block producer on a memory store, blocks produced on demand. */
export async function localLedger(epsilon = 0.25) {
  const producerId = await generateIdentity();
  const producer = await BlockProducer.open({
    store: new MemoryStore(),
    identity: producerId,
    genesis: defaultGenesis(producerId.peerId, { stepBoundL2: epsilon }),
  });
  return { producer, chain: new LocalChain(producer) };
}

/**
 * `trainer` serving its encoder on `net` with mask 1 and the expert-server
 * settings the trainer tests share (remote gradients clipped to norm 1,
 * lr 0.01, inputs kept 10 s, at most 64).
 */
export function serveTrainer<N extends ExpertNetwork>(
  net: N,
  trainer: Trainer,
  acceptRemoteGradients = true,
  serverOptions: Partial<ExpertServerOptions> = {},
) {
  const server = new ExpertServer(
    trainer.served(),
    () => 1,
    {
      acceptRemoteGradients,
      remoteGradMaxNorm: 1,
      remoteLearningRate: 0.01,
      savedInputTtlMs: 10_000,
      maxSavedInputs: 64,
      ...serverOptions,
    },
    undefined,
    undefined,
    trainer.callerInputs,
  );
  net.serve(server);
  return { net, trainer, server };
}

/**
 * `n` trainers p0…p{n−1} on one in-memory hub, each serving its f_i
 * (`serveTrainer`); peer i's shard favours digits 3i…3i+2. Slots 1… are the
 * others; every peer may route to all of them (top-k = n).
 */
export async function trainerSwarm(
  n: number,
  opts: {
    model?: Partial<ModelOptions>;
    step?: Partial<StepOptions>;
    acceptRemoteGradients?: boolean;
    server?: Partial<ExpertServerOptions>;
  } = {},
) {
  const hub = new InMemoryHub();
  const peers = [];
  for (let i = 0; i < n; i++) {
    const net = hub.join(`p${i}`);
    const trainer = new Trainer(
      await skewedTask([i * 3, i * 3 + 1, i * 3 + 2], i + 1, 200),
      `p${i}`,
      net,
      { ...SMALL_MODEL, maxExperts: n + 1, topK: n, seed: i + 1, ...opts.model },
      {
        ...DEFAULT_STEP_OPTIONS,
        batchSize: 16,
        kMin: n - 1,
        graceMs: 20,
        forwardTimeoutMs: 400,
        ...opts.step,
      },
    );
    peers.push(serveTrainer(net, trainer, opts.acceptRemoteGradients ?? true, opts.server));
  }
  return { hub, peers };
}

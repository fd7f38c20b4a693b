/**
 * Command-line flags of `pnpm swarm`. Parsing is a pure function so every
 * error path is unit-tested; the CLI turns a UsageError into a message on
 * stderr and exit code 2.
 */
import { isAbsolute, resolve } from 'node:path';
import { DEFAULT_MODEL_OPTIONS } from '@peerbench/peer';
import { type NewcomerSpec, parseNewcomers } from './newcomers.js';

export type SwarmMode = 'shared' | 'isolated';
export type TransportName = 'memory' | 'webrtc';

export interface AdversarySpec {
  /**
   * noise: an endpoint answering uniform noise; it registers and never scores.
   * copy: a real Peer that trains honestly but submits the stake-weighted mean
   * of the others' rows (targetRow) instead of its own scores.
   * selfdeal: a real Peer with the same shard, seed and view as its honest
   * twin (`selfDealTwin`) that every block moves its row as far towards all
   * self-weight as ε allows (the threat of §1.3 and §2).
   */
  kind: 'noise' | 'copy' | 'selfdeal';
  count: number;
}

export interface ChurnSpec {
  /** How many honest peers stop (the highest-indexed ones). */
  count: number;
  atStep: number;
}

export interface SwarmOptions {
  peers: number;
  steps: number;
  k: number;
  mode: SwarmMode;
  /** Signaling server URL (its room and its ledger), or null for the embedded server and ledger. */
  server: string | null;
  /** memory: packages/peer's InMemoryHub; webrtc: PeerMesh over @roamhq/wrtc and a signaling server. */
  transport: TransportName;
  /** Room joined on the signaling server (webrtc). */
  room: string;
  seed: number;
  /** Absolute output directory. */
  out: string;
  /** Training examples per honest peer (length = peers). */
  shardSizes: number[];
  /** Share of a shard drawn from its peer's two dominant classes (non-IID skew). */
  skew: number;
  batch: number;
  /** Training steps per ledger block. */
  blockSteps: number;
  /** Evaluate held-out loss every this many steps (and at the last step). */
  evalEvery: number;
  /** Balanced held-out examples every peer is evaluated on. */
  evalSize: number;
  learningRate: number;
  /** Representation width d of every f_i(x) (ModelOptions.representationSize). */
  dim: number;
  /** Weight of the gate's importance-balance term (ModelOptions.balanceWeight). */
  balance: number;
  /** Inflation τ per block (eq 6). */
  tau: number;
  /** Max L2 change of a weight row per block (section 1.3). */
  epsilon: number;
  /** Mask temperature of eq 8, relative to the mean stake. */
  temperature: number;
  /** How G(x) joins the chosen experts: concat (one slot per peer, eq 10) or sum. */
  combine: 'concat' | 'sum';
  /** What every Peer answers: 0 its encoder alone, 1 encoder plus its student of G (eq 9, ModelOptions.answerDepth). */
  answerDepth: 0 | 1;
  /** How P of a depth-1 answer starts (ModelOptions.compositionInit). */
  pInit: 'zero' | 'identity';
  ablate: boolean;
  adversaries: AdversarySpec[];
  churn: ChurnSpec | null;
  quiet: boolean;
  /**
   * none: peers differ by shard size only. views: peer i's encoder sees a
   * seeded random share `qualityViews[i]` of the pixels (geometric from 1
   * down to MIN_QUALITY_VIEW), a known order of usefulness that sharing
   * cannot erase (issue 13 item 5).
   */
  quality: 'none' | 'views';
  /** Whether w_ii counts in R (the genesis `selfWeightsInRank`). */
  selfWeights: 'count' | 'exclude';
  /** Experts apply the gradients callers send back (ExpertServerOptions.acceptRemoteGradients). */
  remoteGradients: boolean;
  /** Learning rate of the remote gradients' own optimiser. */
  remoteLearningRate: number;
  /** Where the peers' scores come from: the validation slice of D_i (exact ablation) or training batches (legacy). */
  scoring: 'validation' | 'training';
  /** A validation scoring pass every this many steps (0: never, the scores stay empty). */
  scoreEvery: number;
  /** How a validation scoring pass routes (clean: no gate noise; noisy: the training noise). */
  scoreRouting: 'clean' | 'noisy';
  /** Validation examples per peer (the slice of D_i its scores are measured on). */
  validationSize: number;
  /** Held-out draws of each peer's own data the ablation ideal is averaged over. */
  ablationDraws: number;
  /** Bounded neighbourhoods (issue 14): at most this many links and D+1 gate slots per peer; null: everyone links to everyone. */
  degree: number | null;
  /** Peers that join late (issue 14's newcomer experiment), else null. */
  newcomers: NewcomerSpec | null;
  /** The one value every competitive mask is held at while the ablation ideal is measured (independent of W). */
  ablationMask: number;
  /** Gate exploration of slots that just got a holder (ModelOptions.youngSlots); unset fields: the trainer's defaults. */
  youngSlots: { share?: number; steps?: number };
}

/**
 * The value every competitive mask is held at while the ablation ideal is
 * measured: σ(0), eq 7's mask for a caller whose stake-weighted weight equals
 * the column mean, and about the mean off-diagonal mask the callers trained
 * with (0.47-0.50 at the last block of the 8-peer known-quality runs). Held
 * at 1, every answer came in ~2× (up to 14×) larger than the callers' heads
 * were trained on: their own held-out loss rose from ~0.50 to ~0.74 and
 * removing about half of the experts, even a peer's own, looked like a gain
 * (docs/results/ranking-fidelity.md, "The ideal's masks").
 */
export const DEFAULT_ABLATION_MASK = 0.5;

/** Smallest share of the pixels a peer sees under --quality views. */
export const MIN_QUALITY_VIEW = 0.02;

/** Views of --quality views: 1 for peer 0 down to MIN_QUALITY_VIEW for the last, geometric. */
export function qualityViews(peers: number): number[] {
  return Array.from({ length: peers }, (_, i) => MIN_QUALITY_VIEW ** (peers === 1 ? 0 : i / (peers - 1)));
}

export class UsageError extends Error {
  readonly code = 'bad-flag';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const SHARD_PRESETS = ['graded', 'uniform'] as const;
export const MAX_PEERS = 256;

/**
 * graded: shard sizes grow geometrically from 40 to 640 examples, so peers
 * differ visibly in what they know and the ideal ranking is not flat.
 */
export function presetShardSizes(preset: string, peers: number): number[] {
  if (preset === 'uniform') return Array.from({ length: peers }, () => 200);
  if (preset === 'graded') {
    const lo = 40;
    const hi = 640;
    return Array.from({ length: peers }, (_, i) =>
      Math.round(lo * (hi / lo) ** (peers === 1 ? 0 : i / (peers - 1))),
    );
  }
  throw new UsageError(
    `--shard-sizes: unknown preset '${preset}' (use ${SHARD_PRESETS.join(', ')} or a list like 50,100)`,
  );
}

export const USAGE = `usage: pnpm swarm [flags]
  --peers N            honest peers (2..${MAX_PEERS}, default 8)
  --steps N            training steps (default 500)
  --k N                experts each example is routed to (default 2)
  --mode M             shared | isolated (default shared)
  --embedded           run the signaling server and ledger in this process (default)
  --server URL         join a running signaling server's room and use its ledger (ws:// or wss://; implies webrtc)
  --transport T        memory | webrtc (default memory; webrtc with --server)
  --room NAME          room on the signaling server (default swarm)
  --seed N             seed for data, init and gate noise (default 1)
  --out DIR            output directory (default ./swarm-out)
  --shard-sizes S      comma list (one per peer) or preset: graded | uniform (default graded)
  --skew F             share of a shard from its two dominant digits, 0.1..1 (default 0.8)
  --batch N            batch size (default 32)
  --block-steps N      training steps per ledger block (default 10)
  --eval-every N       held-out evaluation period in steps (default 10)
  --eval-size N        balanced held-out examples, 10..1000 (default 500)
  --lr F               Adam learning rate (default 0.002)
  --dim N              representation width d of f_i(x) (default 32)
  --balance F          weight of the gate's importance-balance term CV² (default ${DEFAULT_MODEL_OPTIONS.balanceWeight})
  --tau F              inflation per block (default 0.1)
  --epsilon F          max L2 change of a weight row per block (default 0.1)
  --temperature F      mask temperature relative to mean stake (default 0.1)
  --combine C          G(x) as concat (one slot per peer, eq 10) or sum (default concat)
  --answer-depth N     0 | 1: answers from the encoder alone, or f_i(Ĝ(x)) with the student of G (default 0)
  --p-init P           zero | identity: how P of a depth-1 answer starts (default zero)
  --ablate             after training, measure the ideal rank of eq 2 by ablation
  --adversary A        noise:N, copy:N or selfdeal:N (repeatable or comma separated)
  --quality Q          none | views: graded private views of the input, a known usefulness order (default none)
  --self-weights P     count | exclude: whether w_ii counts in R (default exclude)
  --remote-gradients B on | off: experts apply their callers' gradients (default on)
  --remote-lr F        learning rate of the remote gradients (default 0.002)
  --scoring S          validation | training: where w_ij is measured (default validation)
  --score-every N      a validation scoring pass every N steps, 0 = never (default 2)
  --score-routing R    clean | noisy: gate noise in the validation scoring passes (default noisy)
  --validation-size N  validation examples per peer, 10..1000 (default 100)
  --ablation-draws N   held-out draws of each peer's data for the ideal, 1..20 (default 3)
  --ablation-mask F    value every competitive mask is held at while measuring the ideal, (0, 1] (default 0.5)
  --churn N@STEP       stop N honest peers at STEP
  --degree D           bounded neighbourhoods: at most D links and D+1 gate slots per peer, chosen by the neighbour policy (memory transport)
  --newcomers G,N@STEP G good peers (median shard) and N noise peers join at STEP (e.g. 2,2@200)
  --young-share F      share of training rows routed to a slot that just got a holder, 0 = off (default 0.5)
  --young-steps N      training steps that exploration lasts, decaying linearly (default 50)
  --quiet              no progress lines
  --help               this text`;

function int(flag: string, raw: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(raw)) throw new UsageError(`${flag}: expected an integer, got '${raw}'`);
  const v = Number(raw);
  if (v < min || v > max) throw new UsageError(`${flag}: ${v} is out of range ${min}..${max}`);
  return v;
}

function num(flag: string, raw: string, min: number, max: number): number {
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v))
    throw new UsageError(`${flag}: expected a number, got '${raw}'`);
  if (v < min || v > max) throw new UsageError(`${flag}: ${v} is out of range ${min}..${max}`);
  return v;
}

export function parseAdversaries(raw: string): AdversarySpec[] {
  return raw.split(',').map((part) => {
    const m = /^(noise|copy|selfdeal):(\d+)$/.exec(part.trim());
    if (!m) throw new UsageError(`--adversary: expected noise:N, copy:N or selfdeal:N, got '${part}'`);
    const count = Number(m[2]);
    if (count < 1 || count > MAX_PEERS)
      throw new UsageError(`--adversary: count must be 1..${MAX_PEERS}, got ${count}`);
    return { kind: m[1] as AdversarySpec['kind'], count };
  });
}

export function parseChurn(raw: string): ChurnSpec {
  const m = /^(\d+)@(\d+)$/.exec(raw.trim());
  if (!m) throw new UsageError(`--churn: expected N@STEP (e.g. 2@200), got '${raw}'`);
  return { count: Number(m[1]), atStep: Number(m[2]) };
}

/** `raw` if it is `a` or `b`, else a usage error naming the flag. */
export function either<A extends string, B extends string>(flag: string, raw: string, a: A, b: B): A | B {
  if (raw !== a && raw !== b) throw new UsageError(`${flag}: expected ${a} or ${b}, got '${raw}'`);
  return raw as A | B;
}

const BOOLEAN_FLAGS = new Set(['--embedded', '--ablate', '--quiet', '--help']);

/**
 * Parses argv (without node and script). `baseDir` resolves a relative --out:
 * pnpm runs the script inside apps/swarm, so the CLI passes INIT_CWD (where
 * the user typed the command).
 */
export function parseArgs(argv: readonly string[], baseDir: string): SwarmOptions | 'help' {
  const values = new Map<string, string>();
  const adversaryRaw: string[] = [];
  const flags = new Set<string>();
  for (let a = 0; a < argv.length; a++) {
    let arg = argv[a]!;
    if (arg === '--') continue;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}' (flags start with --)`);
    let inline: string | undefined;
    const eq = arg.indexOf('=');
    if (eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (BOOLEAN_FLAGS.has(arg)) {
      if (inline !== undefined) throw new UsageError(`${arg} takes no value`);
      flags.add(arg);
      continue;
    }
    if (!USAGE.includes(`  ${arg} `)) throw new UsageError(`unknown flag ${arg} (see --help)`);
    const value = inline ?? argv[++a];
    if (value === undefined || (inline === undefined && value.startsWith('--')))
      throw new UsageError(`${arg} needs a value`);
    if (arg === '--adversary') adversaryRaw.push(value);
    else if (values.has(arg)) throw new UsageError(`${arg} given twice`);
    else values.set(arg, value);
  }
  if (flags.has('--help')) return 'help';

  const get = (flag: string): string | undefined => values.get(flag);
  const peers = int('--peers', get('--peers') ?? '8', 2, MAX_PEERS);
  const steps = int('--steps', get('--steps') ?? '500', 1, 1_000_000);
  const k = int('--k', get('--k') ?? '2', 1, MAX_PEERS);
  const mode = either('--mode', get('--mode') ?? 'shared', 'shared', 'isolated');
  const server = get('--server') ?? null;
  if (server !== null && flags.has('--embedded'))
    throw new UsageError('--embedded and --server exclude each other');
  if (server !== null && !/^wss?:\/\/[^\s/]+/.test(server))
    throw new UsageError(`--server: expected a ws:// or wss:// URL, got '${server}'`);
  const viaServer = server !== null ? 'webrtc' : 'memory';
  const transport = either('--transport', get('--transport') ?? viaServer, 'memory', 'webrtc');
  const combine = either('--combine', get('--combine') ?? 'concat', 'concat', 'sum');
  const answerDepth = either('--answer-depth', get('--answer-depth') ?? '0', '0', '1');
  const pInit = either('--p-init', get('--p-init') ?? 'zero', 'zero', 'identity');
  if (server !== null && transport === 'memory')
    throw new UsageError("--server needs --transport webrtc (peers join the server's room)");
  const room = get('--room') ?? 'swarm';
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(room))
    throw new UsageError(`--room: expected 1..64 of A-Z a-z 0-9 . _ -, got '${room}'`);
  const seed = int('--seed', get('--seed') ?? '1', 0, 2 ** 31 - 1);
  const outRaw = get('--out') ?? 'swarm-out';
  const out = isAbsolute(outRaw) ? outRaw : resolve(baseDir, outRaw);

  const oneOf = <T extends string>(flag: string, fallback: T, allowed: readonly T[]): T => {
    const v = get(flag) ?? fallback;
    if (!(allowed as readonly string[]).includes(v))
      throw new UsageError(`${flag}: expected ${allowed.join(' or ')}, got '${v}'`);
    return v as T;
  };
  const quality = oneOf('--quality', 'none', ['none', 'views'] as const);
  const selfWeights = oneOf('--self-weights', 'exclude', ['count', 'exclude'] as const);
  const remoteGradients = oneOf('--remote-gradients', 'on', ['on', 'off'] as const);
  const scoring = oneOf('--scoring', 'validation', ['validation', 'training'] as const);
  const scoreRouting = oneOf('--score-routing', 'noisy', ['clean', 'noisy'] as const);
  // With graded views the shards are equal, so the only known difference is the view.
  const shardRaw = get('--shard-sizes') ?? (quality === 'views' ? 'uniform' : 'graded');
  let shardSizes: number[];
  if (/^[a-z]+$/.test(shardRaw)) shardSizes = presetShardSizes(shardRaw, peers);
  else {
    shardSizes = shardRaw.split(',').map((s) => int('--shard-sizes', s.trim(), 10, 5000));
    if (shardSizes.length !== peers)
      throw new UsageError(
        `--shard-sizes: got ${shardSizes.length} sizes for ${peers} peers (need one per peer)`,
      );
  }

  const adversaries = adversaryRaw.flatMap(parseAdversaries);
  const churnRaw = get('--churn');
  const churn = churnRaw === undefined ? null : parseChurn(churnRaw);
  if (churn) {
    if (churn.count < 1 || churn.count > peers - 2)
      throw new UsageError(
        `--churn: can stop 1..${peers - 2} of ${peers} peers (two must remain), got ${churn.count}`,
      );
    if (churn.atStep < 1 || churn.atStep >= steps)
      throw new UsageError(`--churn: step must be in 1..${steps - 1}, got ${churn.atStep}`);
  }
  const degreeRaw = get('--degree');
  const degree = degreeRaw === undefined ? null : int('--degree', degreeRaw, 1, MAX_PEERS);
  if (degree !== null && transport !== 'memory')
    throw new UsageError('--degree needs --transport memory (the WebRTC neighbourhood is joinNetwork’s)');
  const newcomersRaw = get('--newcomers');
  const newcomers = newcomersRaw === undefined ? null : parseNewcomers(newcomersRaw, steps, UsageError);
  const totalPeers =
    peers + adversaries.reduce((s, a) => s + a.count, 0) + (newcomers ? newcomers.good + newcomers.noise : 0);
  if (totalPeers > MAX_PEERS) throw new UsageError(`too many peers in total (${totalPeers} > ${MAX_PEERS})`);
  if (k > totalPeers) throw new UsageError(`--k: ${k} is more than the ${totalPeers} peers`);

  return {
    peers,
    steps,
    k,
    mode,
    server,
    transport,
    room,
    seed,
    out,
    shardSizes,
    skew: num('--skew', get('--skew') ?? '0.8', 0.1, 1),
    batch: int('--batch', get('--batch') ?? '32', 1, 1024),
    blockSteps: int('--block-steps', get('--block-steps') ?? '10', 1, 100_000),
    evalEvery: int('--eval-every', get('--eval-every') ?? '10', 1, 100_000),
    evalSize: int('--eval-size', get('--eval-size') ?? '500', 10, 1000),
    learningRate: num('--lr', get('--lr') ?? '0.002', 1e-6, 1),
    dim: int('--dim', get('--dim') ?? '32', 2, 512),
    balance: num('--balance', get('--balance') ?? String(DEFAULT_MODEL_OPTIONS.balanceWeight), 0, 10),
    tau: num('--tau', get('--tau') ?? '0.1', 0, 100),
    epsilon: num('--epsilon', get('--epsilon') ?? '0.1', 0, 2),
    temperature: num('--temperature', get('--temperature') ?? '0.1', 1e-6, 100),
    combine,
    answerDepth: answerDepth === '1' ? 1 : 0,
    pInit,
    ablate: flags.has('--ablate'),
    adversaries,
    churn,
    quiet: flags.has('--quiet'),
    quality,
    selfWeights,
    remoteGradients: remoteGradients === 'on',
    remoteLearningRate: num('--remote-lr', get('--remote-lr') ?? '0.002', 0, 1),
    scoring,
    scoreRouting,
    scoreEvery: int('--score-every', get('--score-every') ?? '2', 0, 100_000),
    validationSize: int('--validation-size', get('--validation-size') ?? '100', 10, 1000),
    ablationDraws: int('--ablation-draws', get('--ablation-draws') ?? '3', 1, 20),
    ablationMask: num('--ablation-mask', get('--ablation-mask') ?? String(DEFAULT_ABLATION_MASK), 0.001, 1),
    degree,
    newcomers,
    youngSlots: {
      ...(get('--young-share') !== undefined
        ? { share: num('--young-share', get('--young-share')!, 0, 1) }
        : {}),
      ...(get('--young-steps') !== undefined
        ? { steps: int('--young-steps', get('--young-steps')!, 0, 100_000) }
        : {}),
    },
  };
}

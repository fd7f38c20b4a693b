import { describe, expect, it } from 'vitest';
import {
  MIN_QUALITY_VIEW,
  parseAdversaries,
  parseArgs,
  parseChurn,
  presetShardSizes,
  qualityViews,
  type SwarmOptions,
  UsageError,
} from '../src/args.js';

const parse = (...argv: string[]) => parseArgs(argv, '/base') as SwarmOptions;
const fails = (argv: string[], message: RegExp) => {
  let caught: unknown;
  try {
    parseArgs(argv, '/base');
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(UsageError);
  expect((caught as UsageError).code).toBe('bad-flag');
  expect((caught as UsageError).message).toMatch(message);
};

describe('parseArgs', () => {
  it('--young-share and --young-steps set the gate exploration of young slots; unset leaves the trainer defaults', () => {
    expect(parse().youngSlots).toEqual({});
    expect(parse('--young-share', '0').youngSlots).toEqual({ share: 0 });
    expect(parse('--young-share', '0.25', '--young-steps', '100').youngSlots).toEqual({
      share: 0.25,
      steps: 100,
    });
    fails(['--young-share', '1.5'], /--young-share/);
    fails(['--young-steps', '-1'], /--young-steps/);
  });

  it('has defaults that run an 8-peer shared swarm with graded shards', () => {
    const o = parse();
    expect(o).toMatchObject({
      peers: 8,
      steps: 500,
      k: 2,
      mode: 'shared',
      server: null,
      transport: 'memory',
      seed: 1,
    });
    expect(o.out).toBe('/base/swarm-out');
    expect(o.shardSizes).toHaveLength(8);
    expect(o.shardSizes[0]).toBeLessThan(o.shardSizes[7]!);
    expect(o.adversaries).toEqual([]);
    expect(o.churn).toBeNull();
  });

  it('reads every flag, in both --flag value and --flag=value forms', () => {
    const o = parse(
      '--peers=4',
      '--steps',
      '30',
      '--k',
      '3',
      '--mode',
      'isolated',
      '--seed',
      '7',
      '--out',
      'rel/dir',
      '--shard-sizes',
      '50,100,150,200',
      '--adversary',
      'noise:2',
      '--adversary',
      'copy:1',
      '--churn',
      '1@10',
      '--ablate',
      '--quiet',
      '--tau',
      '0.5',
      '--epsilon=0.05',
      '--dim',
      '16',
      '--combine',
      'sum',
      '--answer-depth',
      '1',
    );
    expect(o).toMatchObject({
      peers: 4,
      steps: 30,
      k: 3,
      mode: 'isolated',
      seed: 7,
      ablate: true,
      quiet: true,
    });
    expect(o.out).toBe('/base/rel/dir');
    expect(o.shardSizes).toEqual([50, 100, 150, 200]);
    expect(o.adversaries).toEqual([
      { kind: 'noise', count: 2 },
      { kind: 'copy', count: 1 },
    ]);
    expect(o.churn).toEqual({ count: 1, atStep: 10 });
    expect(o.tau).toBe(0.5);
    expect(o.epsilon).toBe(0.05);
    expect(o.dim).toBe(16);
    expect(o.combine).toBe('sum');
    expect(o.answerDepth).toBe(1);
    expect(parse().answerDepth).toBe(0);
    expect(parse().pInit).toBe('zero');
    expect(parse('--p-init', 'identity').pInit).toBe('identity');
  });

  it('keeps an absolute --out and accepts a ws server URL', () => {
    const o = parse('--out', '/abs/x', '--server', 'ws://127.0.0.1:8080', '--transport', 'webrtc');
    expect(o.out).toBe('/abs/x');
    expect(o.server).toBe('ws://127.0.0.1:8080');
    expect(o.transport).toBe('webrtc');
    expect(o.room).toBe('swarm');
  });

  it("--server implies the webrtc transport (peers join that server's room); --room names it", () => {
    const o = parse('--server', 'wss://example.org/', '--room', 'lab-1');
    expect(o.transport).toBe('webrtc');
    expect(o.room).toBe('lab-1');
    expect(parse('--transport', 'webrtc').server).toBeNull();
  });

  it('returns help for --help', () => {
    expect(parseArgs(['--help'], '/')).toBe('help');
  });

  it('rejects bad flags with a message naming the flag', () => {
    fails(['--peers', 'many'], /--peers: expected an integer/);
    fails(['--peers', '1'], /--peers: 1 is out of range/);
    fails(['--steps'], /--steps needs a value/);
    fails(['--steps', '--k'], /--steps needs a value/);
    fails(['--mode', 'solo'], /--mode: expected shared or isolated/);
    fails(['--transport', 'carrier-pigeon'], /--transport: expected memory or webrtc/);
    fails(['--server', 'http://x'], /--server: expected a ws/);
    fails(['--server', 'ws://x', '--embedded'], /exclude each other/);
    fails(['--frobnicate'], /unknown flag --frobnicate/);
    fails(['peers'], /unexpected argument 'peers'/);
    fails(['--peers', '3', '--shard-sizes', '10,20'], /got 2 sizes for 3 peers/);
    fails(['--shard-sizes', 'huge'], /unknown preset 'huge'/);
    fails(['--adversary', 'sybil:3'], /expected noise:N, copy:N or selfdeal:N/);
    fails(['--self-weights', 'some'], /--self-weights: expected count or exclude/);
    fails(['--quality', 'best'], /--quality: expected none or views/);
    fails(['--churn', 'two@200'], /expected N@STEP/);
    fails(['--peers', '8', '--churn', '7@10'], /can stop 1..6 of 8/);
    fails(['--steps', '100', '--churn', '2@100'], /step must be in 1..99/);
    fails(['--peers', '2', '--k', '3'], /--k: 3 is more than the 2 peers/);
    fails(['--lr', 'fast'], /--lr: expected a number/);
    fails(['--ablate=yes'], /--ablate takes no value/);
    fails(['--seed', '1', '--seed', '2'], /--seed given twice/);
    fails(['--runtime', 'swarm'], /unknown flag --runtime/);
    fails(['--server', 'ws://x', '--transport', 'memory'], /--server needs --transport webrtc/);
    fails(['--room', 'a room'], /--room: expected/);
    fails(['--dim', '1'], /--dim: 1 is out of range/);
    fails(['--combine', 'max'], /--combine: expected concat or sum/);
    fails(['--answer-depth', '2'], /--answer-depth: expected 0 or 1/);
    fails(['--p-init', 'ones'], /--p-init: expected zero or identity/);
  });
});

describe('flag helpers', () => {
  it('graded preset grows monotonically and uniform is flat', () => {
    const g = presetShardSizes('graded', 6);
    for (let i = 1; i < g.length; i++) expect(g[i]).toBeGreaterThan(g[i - 1]!);
    expect(new Set(presetShardSizes('uniform', 5)).size).toBe(1);
  });
  it('parses comma-separated adversaries and churn', () => {
    expect(parseAdversaries('noise:1,copy:2')).toEqual([
      { kind: 'noise', count: 1 },
      { kind: 'copy', count: 2 },
    ]);
    expect(parseChurn('2@200')).toEqual({ count: 2, atStep: 200 });
    expect(parseAdversaries('selfdeal:1')).toEqual([{ kind: 'selfdeal', count: 1 }]);
  });

  it('--quality views grades the views geometrically and makes the shards uniform', () => {
    const o = parseArgs(['--quality', 'views', '--peers', '4'], '/tmp') as SwarmOptions;
    expect(o.quality).toBe('views');
    expect(new Set(o.shardSizes).size).toBe(1);
    const v = qualityViews(4);
    expect(v[0]).toBe(1);
    expect(v[3]).toBeCloseTo(MIN_QUALITY_VIEW, 12);
    for (let i = 1; i < v.length; i++) expect(v[i]!).toBeLessThan(v[i - 1]!);
    const d = parseArgs([], '/tmp') as SwarmOptions;
    expect(d.ablationMask).toBe(0.5);
    expect((parseArgs(['--ablation-mask', '1'], '/tmp') as SwarmOptions).ablationMask).toBe(1);
    expect(() => parseArgs(['--ablation-mask', '0'], '/tmp')).toThrow(/out of range/);
    expect([d.selfWeights, d.remoteGradients, d.scoring, d.scoreRouting, d.scoreEvery]).toEqual([
      'exclude',
      true,
      'validation',
      'noisy',
      2,
    ]);
  });
});

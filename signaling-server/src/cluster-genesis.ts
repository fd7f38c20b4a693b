/**
 * `pnpm --filter @peerbench/signaling-server cluster-genesis -- --producers ID,ID,ID [--chain-id NAME] [--out FILE]`:
 * writes the genesis that clustered instances (`--nats … --genesis FILE`)
 * share. `producers` are the instances' peer ids (`start -- --data-dir DIR
 * --print-peer-id` prints each); the first is `producer`. The other
 * parameters are those of the embedded chain (serverGenesisDefaults). Make it
 * once and copy the same file to every instance: the chain, its NATS streams
 * and every light client are tied to its hash.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { defaultGenesis, type GenesisConfig, MAX_GENESIS_PRODUCERS, parseGenesis } from '@peerbench/ledger';
import { serverGenesisDefaults } from './ledger-backend.js';
import { SignalingServerError } from './options.js';

export const CLUSTER_GENESIS_USAGE =
  'usage: cluster-genesis --producers PEER_ID,PEER_ID,... [--chain-id NAME] [--out FILE]';

export interface ClusterGenesisArgs {
  genesis: GenesisConfig;
  /** Absolute path, or undefined for stdout. */
  out: string | undefined;
}

/** The genesis the command line asks for (validated as every instance will validate it). */
export function clusterGenesisFromArgs(
  argv: readonly string[],
  nowMs: number,
  cwd = process.cwd(),
): ClusterGenesisArgs {
  const { values } = parseArgs({
    args: argv[0] === '--' ? argv.slice(1) : [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      producers: { type: 'string' },
      'chain-id': { type: 'string' },
      out: { type: 'string' },
    },
  });
  const producers = (values.producers ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (producers.length === 0 || producers.length > MAX_GENESIS_PRODUCERS)
    throw new SignalingServerError(
      'invalid-options',
      `--producers: 1-${MAX_GENESIS_PRODUCERS} peer ids, comma separated`,
    );
  let genesis: GenesisConfig;
  try {
    genesis = parseGenesis(
      defaultGenesis(producers[0] as string, {
        chainId: values['chain-id'] ?? 'peerbench-cluster',
        timestampMs: nowMs,
        producers,
        ...serverGenesisDefaults(),
      }),
    );
  } catch (err) {
    throw new SignalingServerError('invalid-options', (err as Error).message);
  }
  return { genesis, out: values.out === undefined ? undefined : resolve(cwd, values.out) };
}

function main(): void {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(CLUSTER_GENESIS_USAGE);
    return;
  }
  try {
    const { genesis, out } = clusterGenesisFromArgs(argv, Date.now(), process.env.INIT_CWD);
    const text = `${JSON.stringify(genesis, null, 2)}\n`;
    if (out) {
      writeFileSync(out, text);
      console.error(`genesis for ${genesis.producers?.length ?? 1} producers written to ${out}`);
    } else process.stdout.write(text);
  } catch (err) {
    console.error(`${(err as Error).message}\n${CLUSTER_GENESIS_USAGE}`);
    process.exit(2);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();

/**
 * The swarm's chain is the real ledger (packages/ledger): either embedded (a
 * BlockProducer in this process, in memory, one block every --block-steps
 * swarm steps, so runs are reproducible and blocks line up with steps), or the
 * ledger of the signaling server given by --server (blocks on that server's
 * own clock, verified by a light client, RemoteChain, like the web app).
 * Every participant signs its own register and set-weights txs through
 * packages/peer's LedgerChainClient.
 */

import {
  type Chain,
  type EmbeddedLedger,
  LocalChain,
  openEmbeddedLedger,
  parseGenesis,
  RemoteChain,
} from '@peerbench/ledger';
import { fetchGenesis, httpBaseOf, type LedgerTransport } from '@peerbench/mesh';
import { type ChainClient, LedgerChainClient } from '@peerbench/peer';
import type { Identity } from '@peerbench/protocol';

export interface SwarmLedger {
  readonly name: string;
  /** The participant's chain client (signs with its identity); `transport` carries ledger traffic for a remote ledger. */
  clientFor(identity: Identity, transport: LedgerTransport | undefined): Promise<ChainClient>;
  /** Embedded only: the producer, to produce blocks in step with the swarm. Null: blocks come on the server's clock. */
  readonly producer: EmbeddedLedger['producer'] | null;
  stop(): Promise<void>;
}

export async function embeddedLedger(opts: {
  epsilon: number;
  tau: number;
  /** Whether w_ii counts in R (genesis selfWeightsInRank). */
  selfWeightsInRank: boolean;
}): Promise<SwarmLedger & { embedded: EmbeddedLedger }> {
  const embedded = await openEmbeddedLedger({
    autoStart: false,
    genesis: {
      stepBoundL2: opts.epsilon,
      tau: { mode: 'fixed', value: opts.tau },
      selfWeightsInRank: opts.selfWeightsInRank,
    },
  });
  const chain = new LocalChain(embedded.producer);
  return {
    name: 'ledger (packages/ledger BlockProducer, embedded, in memory)',
    embedded,
    producer: embedded.producer,
    async clientFor(identity) {
      return new LedgerChainClient(chain, identity);
    },
    stop: () => embedded.stop(),
  };
}

export async function remoteLedger(signalingUrl: string): Promise<SwarmLedger> {
  const genesis = await fetchGenesis(signalingUrl, parseGenesis);
  const chains: RemoteChain[] = [];
  return {
    name: `ledger of ${httpBaseOf(signalingUrl)} (RemoteChain, light client)`,
    producer: null,
    async clientFor(identity, transport) {
      if (!transport)
        throw new Error('a remote ledger is reached through the participant’s signaling connection');
      const chain = new RemoteChain({ genesis, transport });
      chain.start();
      chains.push(chain);
      return new LedgerChainClient(chain satisfies Chain, identity);
    },
    async stop() {
      for (const c of chains) c.stop();
    },
  };
}

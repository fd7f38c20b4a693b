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
  type GenesisConfig,
  type Identity,
  LocalChain,
  openEmbeddedLedger,
  parseGenesis,
  RemoteChain,
} from '@peerbench/ledger';
import { type ChainClient, LedgerChainClient, type PeerMesh } from '@peerbench/peer';

export interface SwarmLedger {
  readonly name: string;
  /** The participant's chain client (signs with its identity); `mesh` carries ledger traffic for a remote ledger. */
  clientFor(identity: Identity, mesh: PeerMesh | undefined): Promise<ChainClient>;
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

/** http(s)://host of a ws(s):// signaling URL, where the ledger's HTTP routes live. */
export function httpBaseOf(signalingUrl: string): string {
  const url = new URL(signalingUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  return url.origin;
}

export async function fetchGenesis(signalingUrl: string): Promise<GenesisConfig> {
  const res = await fetch(`${httpBaseOf(signalingUrl)}/ledger/genesis`);
  if (!res.ok) throw new Error(`${signalingUrl} has no ledger (GET /ledger/genesis answered ${res.status})`);
  return parseGenesis(await res.json());
}

export async function remoteLedger(signalingUrl: string): Promise<SwarmLedger> {
  const genesis = await fetchGenesis(signalingUrl);
  const chains: RemoteChain[] = [];
  return {
    name: `ledger of ${httpBaseOf(signalingUrl)} (RemoteChain, light client)`,
    producer: null,
    async clientFor(identity, mesh) {
      if (!mesh) throw new Error('a remote ledger is reached through the participant’s signaling connection');
      const chain = new RemoteChain({
        genesis,
        transport: {
          sendTx: (tx) => mesh.signaling.sendLedgerTx(tx),
          subscribe: (from, onBlock) => {
            const off = mesh.signaling.on('ledger-block', (b) => onBlock(b));
            mesh.signaling.subscribeLedger(from);
            return off;
          },
        },
      });
      chain.start();
      chains.push(chain);
      return new LedgerChainClient(chain satisfies Chain, identity);
    },
    async stop() {
      for (const c of chains) c.stop();
    },
  };
}

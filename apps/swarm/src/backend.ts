/**
 * The tfjs backend every Peer of the swarm shares (they run with
 * `backend: false`, so it is chosen once per process): packages/peer's
 * selection, which in Node tries WASM (about 5× the pure-JS CPU backend for
 * these MLPs) and falls back to CPU.
 */
import { selectBackend } from '@peerbench/peer';

export async function initBackend(): Promise<string> {
  return (await selectBackend()).chosen;
}

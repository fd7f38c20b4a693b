/**
 * Real MessageChannels for the worker-bridge tests (the same structured
 * cloning and buffer transfer a browser worker gets; both ends in this
 * thread). `channel()` opens one; `closeChannels()` closes every one opened
 * since, for an afterEach or afterAll.
 */
import type { MessagePortLike } from '../src/worker/port.js';

const opened: MessageChannel[] = [];

/** A new channel: `main` for the main thread's side, `worker` for the worker's. */
export function channel(): { main: MessagePortLike; worker: MessagePortLike } {
  const ch = new MessageChannel();
  opened.push(ch);
  return { main: ch.port1 as unknown as MessagePortLike, worker: ch.port2 as unknown as MessagePortLike };
}

export function closeChannels(): void {
  for (const ch of opened.splice(0)) {
    ch.port1.close();
    ch.port2.close();
  }
}

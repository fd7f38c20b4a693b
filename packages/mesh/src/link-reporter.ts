/**
 * Keeps the signaling server told about this peer's links (state and
 * connection type: the server counts them in /metrics): a report shortly
 * after any change (changes within LINK_REPORT_DEBOUNCE_MS go in one), and a
 * full one after every welcome, since the server forgets a peer's report when
 * its signaling connection ends.
 */
import { type LinkReportEntry, MAX_REPORTED_LINKS } from '@peerbench/protocol';
import type { LinkTable } from './link-status.js';
import type { SignalingClient } from './signaling-client.js';

export const LINK_REPORT_DEBOUNCE_MS = 1_000;

/** Starts reporting; returns stop. */
export function startLinkReporter(
  signaling: Pick<SignalingClient, 'on' | 'sendLinkReport'>,
  table: LinkTable,
  debounceMs = LINK_REPORT_DEBOUNCE_MS,
): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const send = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const links: LinkReportEntry[] = [];
    for (const l of table.list()) {
      if (l.state === 'closed' || links.length >= MAX_REPORTED_LINKS) continue;
      links.push({ peerId: l.peerId, state: l.state, type: l.type });
    }
    signaling.sendLinkReport(links);
  };
  const offs = [
    table.onChange(() => {
      timer ??= setTimeout(send, debounceMs);
    }),
    signaling.on('welcome', send),
  ];
  return () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    for (const off of offs) off();
  };
}

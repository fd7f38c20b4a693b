import type { LinkInfo } from '@peerbench/mesh';
import { describe, expect, it } from 'vitest';
import { linkLabel, linkViews } from '../src/links.js';

const info = (peerId: string, over: Partial<LinkInfo>): LinkInfo => ({
  peerId,
  state: 'connected',
  type: null,
  pair: null,
  reason: null,
  failures: 0,
  sinceMs: 0,
  ...over,
});

describe('links on the dashboard', () => {
  it('keeps each open or failing link by peer, without closed ones', () => {
    const views = linkViews([
      info('a', { type: 'relay' }),
      info('b', { state: 'failed', reason: 'not connected within 15000 ms', failures: 2 }),
      info('c', { state: 'closed', reason: 'peer left the room' }),
    ]);
    expect(views).toEqual({
      a: { state: 'connected', type: 'relay', reason: null },
      b: { state: 'failed', type: null, reason: 'not connected within 15000 ms' },
    });
  });

  it('says how each link travels, and why a failed one failed', () => {
    expect(linkLabel({ state: 'connected', type: 'relay', reason: null })).toMatchObject({
      text: 'relayed (TURN)',
      kind: 'relay',
    });
    expect(linkLabel({ state: 'connected', type: 'direct-host', reason: null })).toMatchObject({
      text: 'direct',
      kind: 'direct',
    });
    expect(linkLabel({ state: 'connected', type: 'direct-srflx', reason: null }).text).toBe('direct (NAT)');
    const failed = linkLabel({ state: 'failed', type: null, reason: 'not connected within 15000 ms' });
    expect(failed).toMatchObject({ text: 'failed', kind: 'failed' });
    expect(failed.title).toContain('not connected within 15000 ms');
    expect(linkLabel({ state: 'connecting', type: null, reason: null }).kind).toBe('connecting');
    expect(linkLabel(undefined).kind).toBe('none');
  });
});

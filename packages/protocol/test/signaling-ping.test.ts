import { describe, expect, it } from 'vitest';
import {
  parseClientMessage,
  parseServerMessage,
  SIGNALING_CONNECT_TIMEOUT_MS,
  SIGNALING_PING_INTERVAL_MS,
  SIGNALING_PONG_TIMEOUT_MS,
  SignalingMessageError,
} from '../src/index.js';

describe('signaling ping/pong (the client keepalive)', () => {
  it('parses ping and pong with a u32 seq', () => {
    expect(parseClientMessage('{"type":"ping","seq":0}')).toEqual({ type: 'ping', seq: 0 });
    expect(parseServerMessage('{"type":"pong","seq":4294967295}')).toEqual({ type: 'pong', seq: 4294967295 });
  });

  it('refuses a ping or pong without a valid seq with a coded error naming it', () => {
    for (const raw of [
      '{"type":"ping"}',
      '{"type":"ping","seq":-1}',
      '{"type":"ping","seq":0.5}',
      '{"type":"ping","seq":4294967296}',
      '{"type":"ping","seq":null}',
    ]) {
      expect(() => parseClientMessage(raw)).toThrow(SignalingMessageError);
      expect(() => parseClientMessage(raw)).toThrow(/seq/);
    }
    expect(() => parseServerMessage('{"type":"pong","seq":"1"}')).toThrow(/seq must be a number/);
    expect(() => parseClientMessage('{"type":"ping","seq":1,"pad":"x"}')).toThrow(SignalingMessageError);
  });

  it('keeps its timings in a sane order: a dead socket is found within a few seconds', () => {
    expect(SIGNALING_PING_INTERVAL_MS).toBeGreaterThanOrEqual(1_000);
    expect(SIGNALING_PING_INTERVAL_MS + SIGNALING_PONG_TIMEOUT_MS).toBeLessThanOrEqual(10_000);
    expect(SIGNALING_CONNECT_TIMEOUT_MS).toBeGreaterThanOrEqual(SIGNALING_PONG_TIMEOUT_MS);
  });
});

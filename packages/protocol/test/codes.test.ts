import { describe, expect, it } from 'vitest';
import {
  CloseCode,
  isLedgerSubmitErrorCode,
  LEDGER_SUBMIT_ERROR_CODES,
  LEDGER_TX_ERROR_CODES,
  parseServerMessage,
  toLedgerSubmitErrorCode,
} from '../src/index.js';

describe('close codes', () => {
  it('keeps the numbers deployed servers and clients already use', () => {
    // Changing one of these breaks a client talking to an older server (or the reverse).
    expect(CloseCode).toEqual({
      goingAway: 1001,
      policyViolation: 1008,
      messageTooBig: 1009,
      tryAgainLater: 1013,
      replaced: 4000,
      joinTimeout: 4001,
    });
  });
});

describe('ledger submit codes', () => {
  it('lists every code once, the ledger rejections first', () => {
    expect(new Set(LEDGER_SUBMIT_ERROR_CODES).size).toBe(LEDGER_SUBMIT_ERROR_CODES.length);
    expect(LEDGER_SUBMIT_ERROR_CODES.slice(0, LEDGER_TX_ERROR_CODES.length)).toEqual([
      ...LEDGER_TX_ERROR_CODES,
    ]);
  });

  it('reads codes from a transport as the typed union', () => {
    expect(toLedgerSubmitErrorCode('duplicate-key')).toBe('duplicate-key');
    expect(toLedgerSubmitErrorCode('timeout')).toBe('timeout');
    expect(toLedgerSubmitErrorCode('not-connected')).toBe('unavailable');
    expect(toLedgerSubmitErrorCode('ledger-unavailable')).toBe('unavailable');
    expect(toLedgerSubmitErrorCode('not-joined')).toBe('unavailable');
    expect(toLedgerSubmitErrorCode('something-new')).toBe('rejected');
    expect(toLedgerSubmitErrorCode(undefined)).toBe('rejected');
    expect(isLedgerSubmitErrorCode('registered')).toBe(false);
  });

  it('the ledger-tx-result message accepts only known codes', () => {
    const msg = (code: string) =>
      JSON.stringify({ type: 'ledger-tx-result', requestId: 'r1', ok: false, code, message: 'm' });
    expect(parseServerMessage(msg('step-too-large'))).toMatchObject({ code: 'step-too-large' });
    expect(() => parseServerMessage(msg('bad-nonce'))).toThrow(/code/);
  });
});

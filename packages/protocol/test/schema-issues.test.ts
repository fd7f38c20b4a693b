import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { invalidValueText, issueText } from '../src/index.js';

const Schema = v.object({ a: v.object({ b: v.number() }) });
const issuesOf = (value: unknown) => {
  const r = v.safeParse(Schema, value);
  if (r.success) throw new Error('expected a failure');
  return r.issues;
};

describe('schema issue text', () => {
  it('names where the first issue is and what is wrong', () => {
    const issues = issuesOf({ a: { b: 'x' } });
    expect(issueText(issues)).toMatch(/^at a\.b: .*number/);
    expect(invalidValueText('block', issues)).toMatch(/^invalid block at a\.b: .*number/);
  });

  it('leaves out the place when the whole value is wrong', () => {
    const issues = issuesOf(7);
    expect(issueText(issues)).not.toMatch(/^at /);
    expect(invalidValueText('message', issues)).toMatch(/^invalid message: /);
  });

  it('still says something for an empty issue list', () => {
    expect(issueText([])).toBe('schema mismatch');
    expect(invalidValueText('tx', [])).toBe('invalid tx: schema mismatch');
  });
});

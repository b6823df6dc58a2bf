/** Which x-request-id values the log keeps: plain short tokens; the rest become server ids. */
import { describe, expect, it } from 'vitest';
import { requestIdOf } from '../../src/http/request-id.js';

const idOf = (value?: string) => requestIdOf({ headers: value === undefined ? {} : { 'x-request-id': value } });

describe('requestIdOf', () => {
  it('keeps a plain client id', () => {
    expect(idOf('trace-42:abc.DEF_9')).toBe('trace-42:abc.DEF_9');
  });

  it.each([
    ['absent', undefined],
    ['huge', 'x'.repeat(12_000)],
    ['JSON', '{"level":50,"msg":"forged"}'],
    ['a line break', 'abc\ndef'],
    ['a server id', 'srv-1234'],
    ['empty', ''],
  ])('replaces one that is %s by a server id', (_what, value) => {
    expect(idOf(value)).toMatch(/^srv-[0-9a-f-]{36}$/);
  });
});

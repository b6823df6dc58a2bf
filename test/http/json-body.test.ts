/**
 * A large body is parsed a stage per turn of the event loop (src/http/json-body.ts): the shape
 * check, decoding, the skeleton scan and the parse each wait their turn behind the loops of other
 * requests, so bodies whose ends arrive together are not parsed one after another in one turn.
 * Turns are counted with a setImmediate chain, not timed.
 */
import { describe, expect, it } from 'vitest';
import { parseJsonBody } from '../../src/http/json-body.js';
import { turnsDuring } from '../helpers/turns.js';

/** A /get_reward body of `n` short queries: 16 384 of them are ~0.4 MB. */
const queries = (n: number) => Buffer.from(JSON.stringify({ query: Array.from({ length: n }, (_, i) => `${i}+1\n${i}+1=${i + 1}\nAnswer: ${i + 1}`) }));

describe('parseJsonBody', () => {
  it('parses a body under 64 KiB in the turn it arrives', async () => {
    const body = queries(100);
    const { result, turns } = await turnsDuring(() => parseJsonBody(body));
    expect(result).toEqual(JSON.parse(body.toString()));
    expect(turns).toBe(0);
  });

  it('parses larger bodies a stage per turn, two arriving together taking turns', async () => {
    const [a, b] = [queries(16_384), queries(16_000)];
    expect(a.length).toBeGreaterThan(64 * 1024);
    const { result, turns } = await turnsDuring(() => Promise.all([parseJsonBody(a), parseJsonBody(b)]));
    expect(result).toEqual([JSON.parse(a.toString()), JSON.parse(b.toString())]);
    // Three waits each (before the shape check, before decoding, between scan and parse), one
    // body's stage per turn.
    expect(turns).toBeGreaterThanOrEqual(6);
  });
});

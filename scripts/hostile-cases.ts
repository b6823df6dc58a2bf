/**
 * The bodies scripts/hostile-bodies.ts sends: the hostile shapes that once stalled the server (a
 * 7 MB body of 900 000 tiny steps, 30 000 steps, one 8 MB prompt, an 8 MB /get_reward), other
 * shapes at the body limit (4 million token ids, deep nesting, escaped text), and the largest
 * valid requests the default limits allow, whose answers are large (token rewards of 256 traces).
 * Each body is built once, as bytes, before it is timed.
 */

const MiB = 1024 * 1024;
/** Just under BODY_LIMIT_BYTES (8 MiB): room for the JSON around the filler. */
const NEAR_LIMIT = 8 * MiB - 4096;

export interface HostileCase {
  name: string;
  method: 'POST';
  path: string;
  body: Buffer;
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

/** A JSON array text of `n` copies of `item` (already JSON), built without a giant JS array. */
function repeatedArray(item: string, n: number): string {
  return `[${`${item},`.repeat(n - 1)}${item}]`;
}

/** A right arithmetic trace of `steps` steps of 7 characters each, distinct per seed. */
export function longTrace(seed: number, steps: number): { prompt: string; steps: string[] } {
  const start = 20 + (seed % 60);
  let v = start;
  const out: string[] = [];
  // "v+n=w" then "w-n=v": two-digit values, so every step has the same length.
  for (let k = 0; k < steps - 1; k++) {
    const n = 2 + ((seed + k - (k % 2)) % 8);
    out.push(k % 2 === 0 ? `${v}+${n}=${v + n}` : `${v}-${n}=${v - n}`);
    v = k % 2 === 0 ? v + n : v - n;
  }
  out.push(`Answer: ${v}`);
  return { prompt: `${start}+${seed}`, steps: out };
}

/** The bodies that once stalled the event loop for seconds. */
export function historicCases(): HostileCase[] {
  const tinySteps = repeatedArray('"1+2=3"', 900_000);
  const stepsText = (n: number) => repeatedArray('"1+1=2"', n);
  const bigText = '1+'.repeat(NEAR_LIMIT / 2);
  return [
    { name: '900 000 tiny steps (7 MB)', method: 'POST', path: '/v1/score', body: Buffer.from(`{"items":[{"prompt":"1+1","steps":${tinySteps}}]}`) },
    { name: '30 000 steps (240 KB)', method: 'POST', path: '/v1/score', body: Buffer.from(`{"items":[{"prompt":"1+1","steps":${stepsText(30_000)}}]}`) },
    { name: 'one 8 MB prompt', method: 'POST', path: '/v1/score', body: json({ items: [{ prompt: bigText, steps: ['Answer: 2'] }] }) },
    { name: '/get_reward, one 8 MB query', method: 'POST', path: '/get_reward', body: json({ query: [`${bigText}\nAnswer: 2`] }) },
    { name: '/tokenize, 900 000 tiny steps', method: 'POST', path: '/tokenize', body: Buffer.from(`{"items":[{"prompt":"1+1","steps":${tinySteps}}]}`) },
    { name: '/tokenize, one 8 MB prompt', method: 'POST', path: '/tokenize', body: json({ items: [{ prompt: bigText, steps: ['Answer: 2'] }] }) },
  ];
}

/** Other shapes a body of up to 8 MiB can take. */
export function limitCases(): HostileCase[] {
  const ids = repeatedArray('1', (NEAR_LIMIT - 100) / 2);
  const depth = NEAR_LIMIT / 2;
  const sample = '"1+1\\n1+1=2\\nAnswer: 2"';
  const samples = Math.floor((NEAR_LIMIT - 100) / (sample.length + 1));
  return [
    { name: '4 million token ids in one item', method: 'POST', path: '/v1/score', body: Buffer.from(`{"items":[{"prompt_ids":${ids},"response_ids":[5],"step_ends":[1]}]}`) },
    { name: '256 items of 8 000 steps', method: 'POST', path: '/v1/score', body: Buffer.from(`{"items":${repeatedArray(`{"prompt":"1","steps":${repeatedArray('"1"', 8_000)}}`, 256)}}`) },
    { name: '256 items of 2 000 steps', method: 'POST', path: '/v1/score', body: Buffer.from(`{"items":${repeatedArray(`{"prompt":"1","steps":${repeatedArray('"1"', 2_000)}}`, 256)}}`) },
    { name: '256 items of 1 000 steps (the most strings)', method: 'POST', path: '/v1/score', body: Buffer.from(`{"items":${repeatedArray(`{"prompt":"1","steps":${repeatedArray('"1"', 1_000)}}`, 256)}}`) },
    { name: '32 token id items of 16 380 values (the most values)', method: 'POST', path: '/v1/score', body: Buffer.from(`{"items":${repeatedArray(`{"prompt_ids":${repeatedArray('1', 8_190)},"response_ids":${repeatedArray('1', 4_095)},"step_ends":${repeatedArray('1', 4_095)}}`, 32)}}`) },
    { name: '/get_reward, 16 384 short queries', method: 'POST', path: '/get_reward', body: Buffer.from(`{"query":${repeatedArray(sample, 16_384)}}`) },
    { name: '4 million nested arrays', method: 'POST', path: '/v1/score', body: Buffer.from(`${'['.repeat(depth)}${']'.repeat(depth)}`) },
    { name: '8 MB prompt of \\u00e9 escapes', method: 'POST', path: '/v1/score', body: Buffer.from(`{"items":[{"prompt":"${'\\u00e9'.repeat(NEAR_LIMIT / 6)}","steps":["1"]}]}`) },
    { name: `/get_reward, ${samples} short queries (8 MB)`, method: 'POST', path: '/get_reward', body: Buffer.from(`{"query":${repeatedArray(sample, samples)}}`) },
  ];
}

/** The largest valid requests for a model whose traces fit `steps` steps: 256 full traces. */
export function largestValidCases(steps: number): HostileCase[] {
  const traces = Array.from({ length: 256 }, (_, i) => longTrace(i, steps));
  const queries = traces.map((t) => `${t.prompt}\n${t.steps.join('\n')}`);
  return [
    { name: '256 full traces, token_rewards', method: 'POST', path: '/v1/score', body: json({ items: traces, options: { token_rewards: true } }) },
    { name: '/tokenize, 256 full traces', method: 'POST', path: '/tokenize', body: json({ items: traces }) },
    { name: '/get_reward, 256 full samples', method: 'POST', path: '/get_reward', body: json({ query: queries }) },
  ];
}

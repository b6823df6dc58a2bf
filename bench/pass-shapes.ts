/**
 * `npm run bench:shapes [-- --shapes 4x450,16x450,16x50+400 --present --threads 2 --bundle DIR]`:
 * one model's raw onnxruntime forward pass (a bundle's policy, default the bench's random-30m; no
 * service around it) timed by batch shape, to see what a pass size costs on this CPU before
 * choosing `MAX_BATCH_TOKENS`, or to compare two exports of the same weights.
 *
 * A shape is ROWSxNEW[+PAST]: rows, new tokens per row, past positions per row. `--present` also
 * fetches the `present.*` outputs (what a service without `new_key_values` outputs does when a
 * row's KV is kept). The service's own session options (src/engine/execution-provider.ts), with
 * `--threads` intra-op threads (the service gives each model of a pair half of its threads).
 * Inputs are built once per shape, outside the timed calls; one untimed call first, then the
 * median of `--repeats` calls. Prints one JSON object.
 */
import { readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs as parseNodeArgs } from 'node:util';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { baseOptions } from '../src/engine/execution-provider.js';
import { silentLogger } from '../src/logger.js';
import { prepareBundle } from './bundles.js';

const benchRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseNodeArgs({
  options: {
    shapes: { type: 'string', default: '4x450,8x450,16x450,16x500,32x450,8x900,16x50+400' },
    present: { type: 'boolean', default: false },
    threads: { type: 'string', default: '2' },
    repeats: { type: 'string', default: '3' },
    bundle: { type: 'string' },
  },
});

interface Shape { rows: number; seq: number; past: number }

function parseShape(s: string): Shape {
  const m = /^(\d+)x(\d+)(?:\+(\d+))?$/.exec(s.trim());
  if (!m) throw new Error(`shape "${s}" is not ROWSxNEW[+PAST]`);
  return { rows: Number(m[1]), seq: Number(m[2]), past: Number(m[3] ?? 0) };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const threads = Number(args.threads);
  const repeats = Math.max(1, Number(args.repeats));
  const bundleDir = args.bundle !== undefined
    ? resolve(args.bundle)
    : (await prepareBundle('random-30m', benchRoot, join(benchRoot, 'bench', 'work'), threads, '30M')).bundleDir;
  const manifest = JSON.parse(readFileSync(join(bundleDir, 'prm.json'), 'utf8')) as {
    policy: { onnx: string; num_layers: number; num_heads: number; head_dim: number };
  };
  const { num_layers: L, num_heads: H, head_dim: D } = manifest.policy;
  const session = await InferenceSession.create(join(bundleDir, manifest.policy.onnx), {
    ...baseOptions({ device: 'cpu', intraOpThreads: threads, interOpThreads: 1, logger: silentLogger }),
    executionProviders: ['cpu'],
  });
  const fetches = session.outputNames.filter((n) => args.present || !n.startsWith('present.'));
  const results = [];
  for (const shape of args.shapes.split(',').map(parseShape)) {
    const { rows: B, seq: S, past: P } = shape;
    const ids = (n: number, f: (i: number) => number) => BigInt64Array.from({ length: n }, (_, i) => BigInt(f(i)));
    const feeds: Record<string, Tensor> = {
      input_ids: new Tensor('int64', ids(B * S, (i) => 3 + ((i * 7) % 90)), [B, S]),
      attention_mask: new Tensor('int64', ids(B * (P + S), () => 1), [B, P + S]),
      position_ids: new Tensor('int64', ids(B * S, (i) => P + (i % S)), [B, S]),
      target_ids: new Tensor('int64', ids(B * S, (i) => 3 + ((i * 11) % 90)), [B, S]),
    };
    for (let l = 0; l < L; l++) {
      for (const kv of ['key', 'value']) {
        feeds[`past_key_values.${l}.${kv}`] = new Tensor('float32', new Float32Array(B * H * P * D).fill(0.01), [B, H, P, D]);
      }
    }
    const run = async (): Promise<number> => {
      const t0 = performance.now();
      const out = await session.run(feeds, fetches);
      const ms = performance.now() - t0;
      for (const t of Object.values(out)) t.dispose();
      return ms;
    };
    await run();
    const times: number[] = [];
    for (let i = 0; i < repeats; i++) times.push(await run());
    const ms = median(times);
    results.push({ shape: `${B}x${S}${P ? `+${P}` : ''}`, rows: B, new_tokens: S, past: P, ms: Number(ms.toFixed(1)), tokens_per_s: Math.round((B * S) / (ms / 1000)) });
  }
  await session.release();
  console.log(JSON.stringify({ bundle: bundleDir, threads, present: args.present, repeats, results }, null, 2));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(2);
});

/**
 * `npm run bench:tree [-- options]`: the service's tree pass alone (no PyTorch, no other workload),
 * for measuring a change to the tree path in a few minutes instead of a whole bench run.
 *
 * Same workload, bundle and server settings as the tree pass of `npm run bench` (default: the full
 * run's 64 traces on random-30m), so its figures compare with that pass's `tree.service`. Accepts
 * the bench's options (`--tree-traces`, `--server-env`, `--threads`, `--seed`, `--models`, ...) plus
 * `--repo DIR`: serve from another checkout of the service (same bench, same inputs), to put a
 * change and its parent side by side. Prints one JSON object.
 */
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyAllocator } from './allocator.js';
import { parseArgs } from './args.js';
import { prepareBundle } from './bundles.js';
import { readBundle } from './flops.js';
import { workloadInputs } from './model-run.js';
import { measurePass, treeServerEnv, withServer } from './service-side.js';

const benchRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const workDir = resolve(benchRoot, 'bench', 'work');

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const at = argv.indexOf('--repo');
  const serverRoot = at >= 0 ? resolve(argv.splice(at, 2)[1] ?? '.') : benchRoot;
  const args = parseArgs(argv);
  const allocator = applyAllocator(args.allocator); // the same allocator as the bench's tree pass
  const key = argv.includes('--models') ? args.models[0] : 'random-30m';
  const bundle = await prepareBundle(key, benchRoot, workDir, args.threads, args.randomParams);
  const b = readBundle(bundle.bundleDir);
  const { traces, tree, warm } = workloadInputs(b, args);
  const server = { repoRoot: serverRoot, modelsDir: bundle.modelsDir, threads: args.threads, env: treeServerEnv(b, traces, args.serverEnv) };
  const out = await withServer(server, warm, (s) => measurePass(s, 'tree', args.treePerRequest, tree.phases));
  const r = out.report;
  console.log(JSON.stringify({
    model: key,
    server_repo: serverRoot,
    server_env: server.env,
    allocator: { mode: args.allocator, env: allocator },
    traces: traces.length,
    rounds: tree.phases.length,
    response_tokens: r.response_tokens,
    wall_s: r.wall_s,
    tokens_per_s: r.tokens_per_s,
    engine_real_tokens: r.engine_real_tokens,
    engine_batches: r.engine_batches,
    mean_batch_rows: r.mean_batch_rows,
    padding_waste: r.padding_waste,
    cache_hits: r.cache_hits,
    cache_misses: r.cache_misses,
    engine_seconds: r.engine_seconds,
    peak_rss_bytes: out.peak_rss_bytes,
  }, null, 2));
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:tree failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(2);
});

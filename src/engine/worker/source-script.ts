/**
 * The worker's code when the service runs from TypeScript source (tsx: `npm start`, tests).
 *
 * A new thread cannot import the worker's .ts files by itself: on Node 20 tsx registers its
 * loader on the main thread only, and registering it again in each worker starts one more
 * module-loader thread per model and made every model open about half a second slower. Instead
 * the worker's sources are compiled once per process, with esbuild (the compiler tsx runs on),
 * into one CommonJS script that each worker evaluates. The compiled service (dist/) starts
 * onnx-worker.js directly and never loads this file's output.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type * as Esbuild from 'esbuild';

let compiled: Promise<string> | undefined;

/** The worker script (compiled on the first call; later calls share it). */
export function workerSourceScript(): Promise<string> {
  compiled ??= compile();
  // A failed compile (a syntax error while editing) is retried by the next model that opens.
  compiled.catch(() => (compiled = undefined));
  return compiled;
}

async function compile(): Promise<string> {
  const require = createRequire(import.meta.url);
  // tsx depends on esbuild; resolving it from tsx's folder finds the copy tsx itself uses.
  const esbuild = createRequire(require.resolve('tsx/package.json'))('esbuild') as typeof Esbuild;
  const entry = new URL('./onnx-worker.ts', import.meta.url);
  const out = await esbuild.build({
    entryPoints: [fileURLToPath(entry)],
    // A CommonJS script has no import.meta; modules that resolve packages from their own location
    // (cuda-probe.ts) get the worker entry's, which lies in the same package.
    define: { 'import.meta.url': JSON.stringify(entry.href) },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    logLevel: 'silent',
    plugins: [
      {
        name: 'packages-by-absolute-path',
        setup(build) {
          // Packages (onnxruntime-node) stay outside the script and are required by absolute path:
          // an evaluated script has no folder to resolve them from.
          build.onResolve({ filter: /^[^./]/ }, (args) =>
            args.path.startsWith('node:') ? { path: args.path, external: true } : { path: require.resolve(args.path), external: true },
          );
        },
      },
    ],
  });
  return out.outputFiles[0].text;
}

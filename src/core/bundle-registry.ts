/**
 * Finds every bundle folder under the models directory (a folder holding prm.json), loads,
 * validates and warms them in the background, one at a time (they compete for the same cores),
 * and tracks each one's state for readiness. A broken bundle is logged and reported, never thrown:
 * the process stays up, serves its good bundles and reports not-ready with the reason.
 */
import { access, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadBundle, BundleError, MANIFEST_FILE, type LoadedBundle } from '../bundle/load-bundle.js';
import type { SessionOptions } from '../engine/execution-provider.js';
import { metrics } from '../metrics.js';
import { warmUp } from './warm-up.js';

export type BundleState =
  | { state: 'loading'; dir: string }
  | { state: 'ready'; dir: string; bundle: LoadedBundle }
  | { state: 'failed'; dir: string; reason: string };

export interface RegistryOptions extends SessionOptions {
  modelsDir: string;
}

export class BundleRegistry {
  private readonly entries = new Map<string, BundleState>();
  /** Problems that are not one bundle's (no models dir, no bundles). */
  private readonly problems: string[] = [];
  private discovered = false;
  private closed = false;
  /** Resolves when every bundle has finished loading (ready or failed). */
  readonly loaded: Promise<void>;

  constructor(private readonly opts: RegistryOptions) {
    this.loaded = this.loadAll();
  }

  /** True once the models directory has been listed. */
  get isDiscovered(): boolean {
    return this.discovered;
  }

  get(name: string): BundleState | undefined {
    return this.entries.get(name);
  }

  /** Bundle names, sorted. */
  names(): string[] {
    return [...this.entries.keys()].sort();
  }

  ready(): LoadedBundle[] {
    const out: LoadedBundle[] = [];
    for (const name of this.names()) {
      const e = this.entries.get(name)!;
      if (e.state === 'ready') out.push(e.bundle);
    }
    return out;
  }

  issues(): string[] {
    return [...this.problems];
  }

  private async discover(): Promise<string[]> {
    const root = resolve(this.opts.modelsDir);
    let names: string[];
    try {
      const dirents = await readdir(root, { withFileTypes: true });
      names = dirents.filter((d) => d.isDirectory() || d.isSymbolicLink()).map((d) => d.name).sort();
    } catch (err) {
      this.problems.push(`cannot read the models directory ${root}: ${(err as Error).message}`);
      return [];
    }
    const found: string[] = [];
    for (const name of names) {
      try {
        await access(join(root, name, MANIFEST_FILE));
        found.push(name);
      } catch {
        // A folder without prm.json is not a bundle (e.g. a README or a half-copied folder).
      }
    }
    if (found.length === 0) this.problems.push(`no model bundles (folders with ${MANIFEST_FILE}) in ${root}`);
    return found;
  }

  private async loadAll(): Promise<void> {
    const root = resolve(this.opts.modelsDir);
    const names = await this.discover();
    for (const name of names) this.entries.set(name, { state: 'loading', dir: join(root, name) });
    this.discovered = true;
    for (const name of names) {
      if (this.closed) return;
      await this.loadOne(name, join(root, name));
    }
  }

  private async loadOne(name: string, dir: string): Promise<void> {
    const log = this.opts.logger;
    const started = Date.now();
    let bundle: LoadedBundle | undefined;
    try {
      bundle = await loadBundle(dir, this.opts);
      await warmUp(bundle);
      if (this.closed) {
        await bundle.dispose();
        return;
      }
      this.entries.set(name, { state: 'ready', dir, bundle });
      metrics.modelsReady.set(this.ready().length);
      log.info(
        {
          bundle: name,
          fingerprint: bundle.fingerprint,
          graph: bundle.manifest.policy.graph,
          referenceFree: bundle.reference === null,
          executionProvider: bundle.policy.executionProvider,
          ms: Date.now() - started,
        },
        `bundle "${name}" loaded and warmed up`,
      );
    } catch (err) {
      await bundle?.dispose().catch(() => {});
      const reason = err instanceof BundleError ? err.reason : (err as Error).message ?? String(err);
      this.entries.set(name, { state: 'failed', dir, reason });
      log.error({ bundle: name, dir, reason }, `bundle "${name}" (${dir}) failed to load: ${reason}`);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.loaded.catch(() => {});
    const bundles = this.ready();
    this.entries.clear();
    metrics.modelsReady.set(0);
    await Promise.all(bundles.map((b) => b.dispose()));
  }
}

/**
 * Finds every bundle folder under the models directory (a folder holding prm.json), loads,
 * validates and warms them in the background, one at a time (they compete for the same cores),
 * and tracks each one's state for readiness. A broken bundle is logged and reported, never thrown:
 * the process stays up, serves its good bundles and reports not-ready with the reason.
 *
 * Hot reload (reload()): the new version of a bundle is loaded and warmed beside the one serving,
 * then the name is switched to it in one step, so every request sees either the old or the new
 * version, never a mix. Requests hold a lease on the version they resolved; the old version is
 * disposed (its onnxruntime sessions released) when its last lease is returned. A new version
 * that fails to load or warm up changes nothing: the old one keeps serving.
 */
import { access, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadBundle, BundleError, MANIFEST_FILE, type LoadedBundle, type LoadOptions } from '../bundle/load-bundle.js';
import { ErrorCode, PrmError } from '../errors.js';
import { metrics } from '../metrics.js';
import { warmUp } from './warm-up.js';

export type BundleState =
  | { state: 'loading'; dir: string }
  | { state: 'ready'; dir: string; bundle: LoadedBundle }
  | { state: 'failed'; dir: string; reason: string };

export interface RegistryOptions {
  modelsDir: string;
  /** How each bundle is opened (device, threads, fingerprint trust) and where the registry logs. */
  engine: LoadOptions;
  /**
   * Called before a replaced version is disposed, once no request holds it any more; the scoring
   * service closes that version's queue here.
   */
  beforeDispose?: (bundle: LoadedBundle) => Promise<void>;
  /** The last step of loading a bundle, after its warm-up; a failure fails the load. */
  afterWarmUp?: (bundle: LoadedBundle) => Promise<void>;
}

/** What a reload did to one bundle. */
export type ReloadOutcome =
  | { name: string; ok: true; fingerprint: string; previous: string | null }
  | { name: string; ok: false; reason: string; serving: string | null };

/** A reload that could not even start (unknown bundle, unreadable models directory). */
export class ReloadError extends Error {
  constructor(
    message: string,
    readonly kind: 'not_found' | 'failed',
  ) {
    super(message);
    this.name = 'ReloadError';
  }
}

/** Folder names only: a reload request must not reach outside the models directory. */
const BUNDLE_NAME = /^(?!\.{1,2}$)[A-Za-z0-9._-]+$/;

export class BundleRegistry {
  private readonly entries = new Map<string, BundleState>();
  /** Problems that are not one bundle's (no models dir, no bundles). */
  private readonly problems: string[] = [];
  private discovered = false;
  private closed = false;
  /** Requests using each loaded version (see lease()). */
  private readonly leases = new Map<LoadedBundle, number>();
  /** Replaced versions still leased; disposed when their count reaches 0. */
  private readonly retired = new Set<LoadedBundle>();
  /** Disposals under way (close() waits for them). */
  private readonly disposals = new Set<Promise<void>>();
  /** Reloads run one after the other. */
  private reloads: Promise<unknown> = Promise.resolve();
  /** Resolves when every bundle has finished loading (ready or failed). */
  readonly loaded: Promise<void>;

  constructor(private readonly opts: RegistryOptions) {
    this.loaded = this.loadAll();
  }

  private get log(): LoadOptions['logger'] {
    return this.opts.engine.logger;
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

  /**
   * The ready bundle called `name`, or the PrmError a request for it gets: NOT_READY while the
   * models are discovered or it loads or when it failed, MODEL_NOT_FOUND for no name or an unknown one.
   */
  resolve(name: string | undefined): LoadedBundle {
    if (!this.discovered) throw new PrmError(ErrorCode.NOT_READY, 'models are still being discovered', { retryAfterS: 1 });
    if (name === undefined) throw new PrmError(ErrorCode.MODEL_NOT_FOUND, 'no model was named and there is no default model');
    const e = this.entries.get(name);
    if (e === undefined) {
      const known = this.names();
      throw new PrmError(
        ErrorCode.MODEL_NOT_FOUND,
        `no model named ${JSON.stringify(name)}` + (known.length > 0 ? ` (available: ${known.join(', ')})` : ''),
      );
    }
    if (e.state === 'loading') throw new PrmError(ErrorCode.NOT_READY, `model ${JSON.stringify(name)} is still loading`, { retryAfterS: 5 });
    if (e.state === 'failed') throw new PrmError(ErrorCode.NOT_READY, `model ${JSON.stringify(name)} failed to load: ${e.reason}`);
    return e.bundle;
  }

  issues(): string[] {
    return [...this.problems];
  }

  /** Versions replaced by a reload and not yet disposed (their requests are still running). */
  get retiring(): number {
    return this.retired.size + this.disposals.size;
  }

  /**
   * Marks `bundle` as used by one request until the returned function is called (once; later
   * calls do nothing). A version replaced by a reload is disposed only after its last release.
   */
  lease(bundle: LoadedBundle): () => void {
    this.leases.set(bundle, (this.leases.get(bundle) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.leases.get(bundle) ?? 1) - 1;
      if (n > 0) {
        this.leases.set(bundle, n);
        return;
      }
      this.leases.delete(bundle);
      if (this.retired.has(bundle)) this.dispose(bundle);
    };
  }

  private dispose(bundle: LoadedBundle): void {
    this.retired.delete(bundle);
    const log = this.log;
    const p = (async () => {
      await this.opts.beforeDispose?.(bundle);
      await bundle.dispose();
      log.info({ bundle: bundle.name, fingerprint: bundle.fingerprint }, `previous version of bundle "${bundle.name}" disposed`);
    })()
      .catch((err: unknown) => log.error({ bundle: bundle.name, err }, `disposing the previous version of bundle "${bundle.name}" failed`))
      .finally(() => this.disposals.delete(p));
    this.disposals.add(p);
  }

  private retire(bundle: LoadedBundle): void {
    this.retired.add(bundle);
    if (!this.leases.has(bundle)) this.dispose(bundle);
    else {
      this.log.info(
        { bundle: bundle.name, fingerprint: bundle.fingerprint, requests: this.leases.get(bundle) },
        `previous version of bundle "${bundle.name}" is disposed when its requests in flight finish`,
      );
    }
  }

  /** Bundle folders under the models directory, or the one problem that prevents listing them. */
  private async discover(): Promise<{ names: string[]; problem?: string }> {
    const root = resolve(this.opts.modelsDir);
    let names: string[];
    try {
      const dirents = await readdir(root, { withFileTypes: true });
      names = dirents.filter((d) => d.isDirectory() || d.isSymbolicLink()).map((d) => d.name).sort();
    } catch (err) {
      return { names: [], problem: `cannot read the models directory ${root}: ${(err as Error).message}` };
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
    if (found.length === 0) return { names: [], problem: `no model bundles (folders with ${MANIFEST_FILE}) in ${root}` };
    return { names: found };
  }

  private async loadAll(): Promise<void> {
    const root = resolve(this.opts.modelsDir);
    const { names, problem } = await this.discover();
    if (problem) this.problems.push(problem);
    for (const name of names) this.entries.set(name, { state: 'loading', dir: join(root, name) });
    this.discovered = true;
    for (const name of names) {
      if (this.closed) return;
      await this.loadOne(name, join(root, name));
    }
  }

  /**
   * The one load path, for the first load and for reloads: load, validate, warm up; on any failure
   * whatever was opened is released and the reason is returned instead of thrown.
   */
  private async loadAndWarm(dir: string): Promise<{ bundle: LoadedBundle; ms: number } | { reason: string }> {
    const started = Date.now();
    let bundle: LoadedBundle | undefined;
    try {
      bundle = await loadBundle(dir, this.opts.engine);
      await warmUp(bundle);
      await this.opts.afterWarmUp?.(bundle);
      return { bundle, ms: Date.now() - started };
    } catch (err) {
      await bundle?.dispose().catch(() => {});
      return { reason: err instanceof BundleError ? err.reason : (err as Error).message ?? String(err) };
    }
  }

  private async loadOne(name: string, dir: string): Promise<void> {
    const loaded = await this.loadAndWarm(dir);
    if ('reason' in loaded) {
      this.entries.set(name, { state: 'failed', dir, reason: loaded.reason });
      this.log.error({ bundle: name, dir, reason: loaded.reason }, `bundle "${name}" (${dir}) failed to load: ${loaded.reason}`);
      return;
    }
    const { bundle, ms } = loaded;
    if (this.closed) {
      await bundle.dispose();
      return;
    }
    this.entries.set(name, { state: 'ready', dir, bundle });
    metrics.modelsReady.set(this.ready().length);
    this.log.info(
      {
        bundle: name,
        fingerprint: bundle.fingerprint,
        graph: bundle.manifest.policy.graph,
        referenceFree: bundle.reference === null,
        executionProvider: bundle.policy.executionProvider,
        ms,
      },
      `bundle "${name}" loaded and warmed up`,
    );
  }

  /**
   * Loads the current files of one bundle (by name), or of every bundle folder when no name is
   * given (new folders are added; a folder that disappeared keeps its loaded version), and
   * switches each name whose new version loaded and warmed up. Resolves with one outcome per
   * bundle; rejects with ReloadError only when nothing could be attempted.
   */
  reload(name?: string): Promise<ReloadOutcome[]> {
    const run = this.reloads.then(() => this.reloadNow(name));
    this.reloads = run.catch(() => {});
    return run;
  }

  private async reloadNow(name: string | undefined): Promise<ReloadOutcome[]> {
    await this.loaded;
    if (this.closed) throw new ReloadError('the service is shutting down', 'failed');
    const root = resolve(this.opts.modelsDir);
    let names: string[];
    if (name !== undefined) {
      if (!BUNDLE_NAME.test(name)) throw new ReloadError(`${JSON.stringify(name)} is not a bundle folder name`, 'not_found');
      try {
        await access(join(root, name, MANIFEST_FILE));
      } catch {
        throw new ReloadError(`no bundle folder ${JSON.stringify(name)} with ${MANIFEST_FILE} in ${root}`, 'not_found');
      }
      names = [name];
    } else {
      const found = await this.discover();
      if (found.problem) throw new ReloadError(found.problem, 'failed');
      names = found.names;
      // Bundles exist again: problems of the first discovery no longer hold.
      this.problems.length = 0;
      this.forgetRemoved(new Set(names));
    }
    const out: ReloadOutcome[] = [];
    for (const n of names) {
      if (this.closed) break;
      out.push(await this.reloadOne(n, join(root, n)));
    }
    return out;
  }

  /**
   * A full reload serves the folders there are now: a bundle whose folder is gone leaves the
   * registry (and readiness); a version still serving it is disposed after its last request.
   */
  private forgetRemoved(present: ReadonlySet<string>): void {
    for (const [name, e] of [...this.entries]) {
      if (present.has(name)) continue;
      this.entries.delete(name);
      if (e.state === 'ready') this.retire(e.bundle);
      this.log.info({ bundle: name, dir: e.dir }, `bundle "${name}" removed: its folder is gone`);
    }
    metrics.modelsReady.set(this.ready().length);
  }

  private async reloadOne(name: string, dir: string): Promise<ReloadOutcome> {
    const old = this.entries.get(name);
    const serving = old?.state === 'ready' ? old.bundle : null;
    const loaded = await this.loadAndWarm(dir);
    if ('reason' in loaded) {
      const { reason } = loaded;
      // The version in service stays; a bundle that was not serving records the new reason.
      if (serving === null) this.entries.set(name, { state: 'failed', dir, reason });
      this.log.error(
        { bundle: name, dir, reason, serving: serving?.fingerprint ?? null },
        `reload of bundle "${name}" failed: ${reason}` + (serving ? '; the loaded version keeps serving' : ''),
      );
      return { name, ok: false, reason, serving: serving?.fingerprint ?? null };
    }
    const { bundle, ms } = loaded;
    if (this.closed) {
      await bundle.dispose();
      return { name, ok: false, reason: 'the service is shutting down', serving: null };
    }
    // The switch: one synchronous assignment, so no request sees anything in between.
    this.entries.set(name, { state: 'ready', dir, bundle });
    metrics.modelsReady.set(this.ready().length);
    this.log.info(
      { bundle: name, fingerprint: bundle.fingerprint, previous: serving?.fingerprint ?? null, ms },
      `bundle "${name}" reloaded`,
    );
    if (serving !== null) this.retire(serving);
    return { name, ok: true, fingerprint: bundle.fingerprint, previous: serving?.fingerprint ?? null };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.loaded.catch(() => {});
    await this.reloads.catch(() => {});
    const bundles = [...this.ready(), ...this.retired];
    this.retired.clear();
    this.entries.clear();
    metrics.modelsReady.set(0);
    await Promise.all([...this.disposals]);
    await Promise.all(bundles.map((b) => b.dispose()));
  }
}

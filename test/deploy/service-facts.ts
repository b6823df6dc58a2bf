/**
 * What the deployment files may rely on, read from the service itself rather than restated here:
 * the environment variables src/config.ts reads, the routes the service serves, and the metrics
 * src/metrics.ts registers. A deployment file that drifts from the code fails a test.
 */
import { abs, exists, listFiles, readJson, readText } from './repo.js';

/** Variables that deployment files set for something other than the service's config. */
export const NON_SERVICE_ENV: Record<string, string> = {
  ONNXRUNTIME_NODE_INSTALL: "read by onnxruntime-node's install script during npm ci (Dockerfile.cuda)",
};

interface ConfigModule {
  CONFIG_VARS: Record<string, { env: string }>;
  loadConfig(env: Record<string, string | undefined>): unknown;
}

async function configModule(): Promise<ConfigModule> {
  if (!exists('src/config.ts')) {
    throw new Error('src/config.ts does not exist yet: the environment variables used by the deployment files cannot be checked');
  }
  const mod = (await import(abs('src/config.ts'))) as Partial<ConfigModule>;
  if (!mod.CONFIG_VARS || typeof mod.loadConfig !== 'function') {
    throw new Error('src/config.ts no longer exports CONFIG_VARS and loadConfig: update test/deploy/service-facts.ts');
  }
  return mod as ConfigModule;
}

/** Every environment variable the service's config reads. */
export async function configVarNames(): Promise<Set<string>> {
  const mod = await configModule();
  return new Set(Object.values(mod.CONFIG_VARS).map((v) => v.env));
}

/** Runs the service's own config parser over a deployment's environment; returns its problems. */
export async function configProblems(env: Record<string, string | undefined>): Promise<string[]> {
  const mod = await configModule();
  try {
    mod.loadConfig(env);
    return [];
  } catch (err) {
    const problems = (err as { problems?: string[] }).problems;
    return problems ?? [(err as Error).message];
  }
}

/**
 * Paths the service serves: the checked-in OpenAPI document's paths, plus path literals in
 * src/routes/ and src/app.ts (routes such as /metrics may be hidden from the OpenAPI document).
 * Not all of src/: the HTTP client names the same paths without serving them.
 */
export function servedPaths(): Set<string> {
  const paths = new Set<string>();
  if (exists('openapi/openapi.json')) {
    const doc = readJson<{ paths?: Record<string, unknown> }>('openapi/openapi.json');
    for (const p of Object.keys(doc.paths ?? {})) paths.add(p);
  }
  for (const file of [...listFiles('src/routes', ['.ts']), ...(exists('src/app.ts') ? ['src/app.ts'] : [])]) {
    for (const m of readText(file).matchAll(/['"`](\/[A-Za-z0-9_\-/{}:]+)['"`]/g)) paths.add(m[1]);
  }
  return paths;
}

export interface MetricFacts {
  /** Family name as registered (prm_requests_total, prm_batch_rows). */
  family: string;
  type: string;
  labels: string[];
}

/** Every series name a scrape of the service can contain → the labels it may carry. */
export interface MetricCatalog {
  families: MetricFacts[];
  /** Families the service defines itself (the `metrics` export), not prom-client's defaults. */
  own: string[];
  series: Map<string, Set<string>>;
}

export async function metricCatalog(): Promise<MetricCatalog> {
  const { registry, metrics, collectProcessMetrics } = await import('../../src/metrics.js');
  const { loadConfig } = await import('../../src/config.js');
  // The process metrics start with the app, at the configured event-loop tick (names do not depend on it).
  collectProcessMetrics(loadConfig({}).eventLoopResolutionMs);
  const own = Object.values(metrics).map((m) => (m as unknown as { name: string }).name);
  const json = await registry.getMetricsAsJSON();
  const families: MetricFacts[] = json.map((m) => {
    const metric = registry.getSingleMetric(m.name) as unknown as { labelNames?: string[] };
    return { family: m.name, type: String(m.type), labels: [...(metric.labelNames ?? [])] };
  });
  const series = new Map<string, Set<string>>();
  for (const f of families) {
    const labels = new Set(f.labels);
    if (f.type === 'histogram') {
      series.set(`${f.family}_bucket`, new Set([...labels, 'le']));
      series.set(`${f.family}_sum`, labels);
      series.set(`${f.family}_count`, labels);
    } else if (f.type === 'summary') {
      series.set(f.family, new Set([...labels, 'quantile']));
      series.set(`${f.family}_sum`, labels);
      series.set(`${f.family}_count`, labels);
    } else {
      series.set(f.family, labels);
    }
  }
  return { families, own, series };
}

/** Labels Prometheus attaches to every scraped series (job/instance), and its synthetic `up`. */
export const TARGET_LABELS = ['job', 'instance'];
export const PROMETHEUS_SERIES = new Map<string, Set<string>>([['up', new Set<string>()]]);

/** The build's entry point for a TypeScript source, from tsconfig's outDir and rootDir. */
export function compiledPath(source: string): string {
  const tsconfig = JSON.parse(readText('tsconfig.json')) as { compilerOptions: { outDir: string; rootDir: string } };
  const { outDir, rootDir } = tsconfig.compilerOptions;
  const rel = rootDir === '.' ? source : source.replace(new RegExp(`^${rootDir.replace(/\/$/, '')}/`), '');
  return `${outDir.replace(/\/$/, '')}/${rel.replace(/\.ts$/, '.js')}`;
}

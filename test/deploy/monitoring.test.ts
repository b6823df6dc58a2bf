// Prometheus config, alert rules and the Grafana dashboard against what the service exports:
// metric names and labels come from the live prom-client registry of src/metrics.ts, so a renamed
// metric or label breaks this test instead of silently emptying a panel or an alert.
import { posix } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { promqlProblems } from './promql.js';
import { exists, readJson, readYaml } from './repo.js';
import { PROMETHEUS_SERIES, TARGET_LABELS, metricCatalog, servedPaths, type MetricCatalog } from './service-facts.js';

const PROM_DIR = 'docker/prometheus';
const prom = readYaml(`${PROM_DIR}/prometheus.yml`);
const compose = readYaml('docker/compose.yaml');
const dashboard = readJson<any>('docker/grafana/dashboards/implicit-prm.json');
const datasources = readYaml('docker/grafana/provisioning/datasources/prometheus.yml').datasources as any[];
const providers = readYaml('docker/grafana/provisioning/dashboards/implicit-prm.yml').providers as any[];

let catalog: MetricCatalog;
let known: Map<string, Set<string>>;
beforeAll(async () => {
  catalog = await metricCatalog();
  known = new Map([...catalog.series, ...PROMETHEUS_SERIES]);
});

const ruleFiles = (prom.rule_files as string[]).map((f) => posix.join(PROM_DIR, f));
const alertRules = ruleFiles.flatMap((f) => (readYaml(f).groups as any[]).flatMap((g) => g.rules as any[]));
const panels = (dashboard.panels as any[]).filter((p) => p.type !== 'row');
const dashboardExprs = panels.flatMap((p) => (p.targets as any[]).map((t) => ({ panel: p.title as string, expr: t.expr as string })));

describe('Prometheus config', () => {
  const job = (prom.scrape_configs as any[]).find((j) => j.job_name === 'implicit-prm');

  it('scrapes the service on a route it serves, at the compose services that run it', () => {
    expect(servedPaths().has(job.metrics_path ?? '/metrics')).toBe(true);
    const prmServices = Object.entries(compose.services as Record<string, any>).filter(([, s]) => s.build).map(([n]) => n);
    const sd = job.dns_sd_configs[0];
    expect([...sd.names].sort()).toEqual(prmServices.sort());
    expect(sd.port).toBe(8080);
  });

  it('loads rule files that exist', () => {
    expect(ruleFiles.length).toBeGreaterThan(0);
    for (const f of ruleFiles) expect(exists(f), f).toBe(true);
  });
});

describe('alert rules', () => {
  it('use only metrics and labels the service exports', () => {
    const problems = alertRules.flatMap((r) => promqlProblems(r.expr, known, TARGET_LABELS).map((p) => `${r.alert}: ${p}`));
    expect(problems).toEqual([]);
  });

  it('filter routes by values the service uses as route labels', () => {
    const routes = servedPaths();
    for (const r of alertRules) {
      for (const m of String(r.expr).matchAll(/route="([^"]+)"/g)) expect(routes.has(m[1]), `${r.alert}: ${m[1]}`).toBe(true);
    }
  });

  it('each have a severity and a summary', () => {
    for (const r of alertRules) {
      expect(r.labels?.severity, r.alert).toMatch(/^(page|ticket)$/);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
    }
  });
});

describe('Grafana', () => {
  it('provisions the datasource the dashboard refers to, pointing at the compose Prometheus', () => {
    const uids = new Set([dashboard.templating.list, panels, panels.flatMap((p) => p.targets)].flat().map((x: any) => x.datasource?.uid).filter(Boolean));
    expect([...uids]).toEqual([datasources[0].uid]);
    const url = new URL(datasources[0].url);
    expect(compose.services[url.hostname], `${url.hostname} is not a compose service`).toBeDefined();
    expect(compose.services[url.hostname].ports.some((p: string) => p.endsWith(`:${url.port}`))).toBe(true);
  });

  it('loads dashboards from the folder compose mounts the dashboard JSON into', () => {
    const mounts = (compose.services.grafana.volumes as string[]).map((v) => v.split(':'));
    const mount = mounts.find(([, target]) => target === providers[0].options.path);
    expect(mount, `nothing is mounted at ${providers[0].options.path}`).toBeDefined();
    expect(exists(posix.join('docker', mount![0], 'implicit-prm.json'))).toBe(true);
  });

  it('dashboard panels use only metrics and labels the service exports', () => {
    const problems = dashboardExprs.flatMap(({ panel, expr }) => promqlProblems(expr, known, TARGET_LABELS).map((p) => `${panel}: ${p}`));
    const variable = /^label_values\((\w+),\s*(\w+)\)$/.exec(dashboard.templating.list[0].definition);
    expect(variable).not.toBeNull();
    problems.push(...promqlProblems(`${variable![1]}{${variable![2]}=""}`, known, TARGET_LABELS).map((p) => `variable: ${p}`));
    expect(problems).toEqual([]);
  });

  it('dashboard shows every metric the service defines (src/metrics.ts), process RSS included', () => {
    const text = dashboardExprs.map((e) => e.expr).join('\n');
    const own = catalog.families.filter((f) => !/^prm_(process|nodejs)_/.test(f.family)).map((f) => f.family);
    expect(own.length).toBeGreaterThan(10);
    expect(own.filter((f) => !new RegExp(`\\b${f}(_bucket|_sum|_count)?\\b`).test(text))).toEqual([]);
    expect(text).toMatch(/\bprm_process_resident_memory_bytes\b/);
  });

  it('dashboard layout: unique panel ids, unique refIds, panels inside 24 columns and not overlapping', () => {
    const all = dashboard.panels as any[];
    const ids = all.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      const refs = p.targets.map((t: any) => t.refId);
      expect(new Set(refs).size, p.title).toBe(refs.length);
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
    }
    const cells = new Map<string, string>();
    for (const p of all) {
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          const cell = `${x},${y}`;
          expect(cells.get(cell), `${p.title} overlaps ${cells.get(cell)}`).toBeUndefined();
          cells.set(cell, p.title);
        }
      }
    }
  });

  it('dashboard variables used in queries are defined', () => {
    const defined = new Set((dashboard.templating.list as any[]).map((v) => v.name));
    for (const { panel, expr } of dashboardExprs) {
      for (const m of expr.matchAll(/\$(?!__)(\w+)/g)) expect(defined.has(m[1]), `${panel}: $${m[1]}`).toBe(true);
    }
  });
});

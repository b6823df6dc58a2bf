/**
 * The bundle fingerprint (ARCHITECTURE.md §2): it identifies the log-prob function (weights,
 * tokenizer and the text layout that decides which tokens are scored), so cache keys built on it
 * can never mix two models. β is deliberately left out: it is applied after the cache.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { Manifest } from './manifest.js';

/** The files hashed, in recipe order: each graph followed by its external data files. */
export function fingerprintFiles(manifest: Manifest): string[] {
  const files = [manifest.policy.onnx, ...manifest.policy.external_data];
  if (manifest.reference !== null) files.push(manifest.reference.onnx, ...manifest.reference.external_data);
  files.push(manifest.tokenizer.tokenizer_json, manifest.tokenizer.tokenizer_config);
  return files;
}

/** Feeds a file to the hash in chunks: graphs and their weights may be many GB. */
async function hashFile(hash: Hash, path: string): Promise<void> {
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) hash.update(chunk as Buffer);
}

/**
 * "sha256:" + hex(sha256(policy ‖ its data files ‖ reference? ‖ its data files ‖ tokenizer.json ‖
 * tokenizer_config.json ‖ layout JSON)).
 */
export async function computeFingerprint(bundleDir: string, manifest: Manifest): Promise<string> {
  const hash = createHash('sha256');
  for (const file of fingerprintFiles(manifest)) await hashFile(hash, join(bundleDir, file));
  // JSON.stringify is compact and leaves non-ASCII unescaped, matching Python's
  // json.dumps(x, separators=(",", ":"), ensure_ascii=False).
  const layout = [manifest.step_separator, manifest.prompt_template, manifest.use_chat_template, manifest.append_eos];
  hash.update(Buffer.from(JSON.stringify(layout), 'utf8'));
  return 'sha256:' + hash.digest('hex');
}

/**
 * The CUDA probe over real folders: provider libraries present or missing, a driver file present or
 * missing, and a platform without a CUDA build.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { onnxruntimeBindingDir, probeCuda } from '../../src/engine/cuda-probe.js';

const dirs: string[] = [];
function folder(files: string[]): string {
  const d = mkdtempSync(join(tmpdir(), 'cuda-probe-'));
  dirs.push(d);
  for (const f of files) writeFileSync(join(d, f), '');
  return d;
}
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

const LIBS = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];

describe('probeCuda', () => {
  it('is a candidate with both provider libraries and a driver', () => {
    const driver = join(folder(['version']), 'version');
    const p = probeCuda(folder(LIBS), [driver], 'linux');
    expect(p).toEqual({ candidate: true, reason: expect.stringContaining(driver) });
  });

  it('names the missing provider library and how to install it', () => {
    const driver = join(folder(['version']), 'version');
    const p = probeCuda(folder([LIBS[0]!]), [driver], 'linux');
    expect(p.candidate).toBe(false);
    expect(p.reason).toContain('libonnxruntime_providers_cuda.so');
    expect(p.reason).not.toContain('libonnxruntime_providers_shared.so');
    expect(p.reason).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12');
  });

  it('needs a driver even where the libraries are installed', () => {
    const p = probeCuda(folder(LIBS), ['/nonexistent/nvidia/version'], 'linux');
    expect(p).toEqual({ candidate: false, reason: 'no NVIDIA driver (none of /nonexistent/nvidia/version exists)' });
  });

  it('says so on a platform without a CUDA build', () => {
    expect(probeCuda(folder(LIBS), [], 'darwin')).toEqual({ candidate: false, reason: 'onnxruntime-node has no CUDA provider on darwin' });
  });

  it('looks where onnxruntime-node keeps its binding', () => {
    expect(onnxruntimeBindingDir()).toMatch(new RegExp(`node_modules/onnxruntime-node/bin/napi-v6/${process.platform}/${process.arch}$`));
  });
});

/**
 * PRM_DEVICE semantics with the real onnxruntime-node. Where the CUDA execution provider cannot
 * run (CPU-only builds, no GPU), `auto` must use the CPU with one logged reason, without asking
 * onnxruntime for CUDA (which prints native error lines), and `cuda` must fail.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { probeCuda } from '../../src/engine/cuda-probe.js';
import { baseOptions, createSession } from '../../src/engine/execution-provider.js';
import type { Logger } from '../../src/logger.js';
import { BUNDLES_DIR } from '../fixtures/analytic/closed-form.js';

const MODEL = join(BUNDLES_DIR, 'bigram-logits', 'policy.onnx');
const ROOT = new URL('../../', import.meta.url).pathname;

function recorder(): Logger & { lines: { level: string; msg: string; obj: Record<string, unknown> }[] } {
  const lines: { level: string; msg: string; obj: Record<string, unknown> }[] = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => lines.push({ level, msg, obj });
  return { info: at('info'), warn: at('warn'), error: at('error'), lines };
}

async function cudaAvailable(): Promise<boolean> {
  try {
    const s = await createSession(MODEL, 'probe', { device: 'cuda', logger: recorder() });
    await s.session.release();
    return true;
  } catch {
    return false;
  }
}

describe('createSession', () => {
  it('cpu: runs on the CPU and logs it', async () => {
    const log = recorder();
    const s = await createSession(MODEL, 'm/policy.onnx', { device: 'cpu', intraOpThreads: 1, interOpThreads: 1, logger: log });
    expect(s.executionProvider).toBe('cpu');
    expect(log.lines).toEqual([expect.objectContaining({ level: 'info', msg: 'm/policy.onnx runs on the CPU execution provider (PRM_DEVICE=cpu)' })]);
    await s.session.release();
  });

  it('auto and cuda follow the probe: without CUDA, one info line with the reason, and cuda fails', async () => {
    const log = recorder();
    const s = await createSession(MODEL, 'm/policy.onnx', { device: 'auto', logger: log });
    const probe = probeCuda();
    if (probe.candidate && (await cudaAvailable())) {
      expect(s.executionProvider).toBe('cuda');
    } else if (!probe.candidate) {
      expect(s.executionProvider).toBe('cpu');
      expect(log.lines).toEqual([expect.objectContaining({ level: 'info', msg: `m/policy.onnx runs on the CPU execution provider (PRM_DEVICE=auto: ${probe.reason})` })]);
      await expect(createSession(MODEL, 'm/policy.onnx', { device: 'cuda', logger: recorder() })).rejects.toThrow(
        `PRM_DEVICE=cuda but the CUDA execution provider cannot run for m/policy.onnx: ${probe.reason}`,
      );
    }
    await s.session.release();
  });

  it('auto prints nothing of onnxruntime\'s own on a machine without the CUDA provider', () => {
    if (probeCuda().candidate) return; // a CUDA machine: onnxruntime is asked for it, as it should be
    const script = `import { createSession } from './src/engine/execution-provider.ts';
      const log = (level) => (o, msg) => console.log(JSON.stringify({ level, msg }));
      const s = await createSession(${JSON.stringify(MODEL)}, 'm', { device: 'auto', logger: { info: log('info'), warn: log('warn'), error: log('error') } });
      await s.session.release();`;
    const out = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(out.status).toBe(0);
    expect(out.stderr).not.toMatch(/onnxruntime|Failed to load library|\[E:/);
    expect(out.stdout.trim().split('\n').map((l) => JSON.parse(l).level)).toEqual(['info']);
  });

  it('passes intra-op spinning to onnxruntime as a session config entry, off unless asked for', () => {
    const entry = (o: ReturnType<typeof baseOptions>) => (o.extra as { session: { intra_op: { allow_spinning: string } } }).session.intra_op.allow_spinning;
    expect(entry(baseOptions({ device: 'cpu', logger: recorder() }))).toBe('0');
    expect(entry(baseOptions({ device: 'cpu', intraOpSpinning: false, logger: recorder() }))).toBe('0');
    expect(entry(baseOptions({ device: 'cpu', intraOpSpinning: true, logger: recorder() }))).toBe('1');
  });

  it('creates a CPU session with spinning on and with it off', async () => {
    for (const intraOpSpinning of [true, false]) {
      const s = await createSession(MODEL, 'm/policy.onnx', { device: 'cpu', intraOpThreads: 2, intraOpSpinning, logger: recorder() });
      expect(s.executionProvider).toBe('cpu');
      await s.session.release();
    }
  });
});

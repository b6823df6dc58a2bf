/**
 * PRM_DEVICE semantics with the real onnxruntime-node. Where the CUDA execution provider cannot
 * load (CPU-only builds, no GPU), `auto` must fall back with a logged reason and `cuda` must fail.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { baseOptions, createSession } from '../../src/engine/execution-provider.js';
import type { Logger } from '../../src/engine/logger.js';
import { BUNDLES_DIR } from '../fixtures/analytic/closed-form.js';

const MODEL = join(BUNDLES_DIR, 'bigram-logits', 'policy.onnx');

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
    expect(log.lines).toEqual([expect.objectContaining({ level: 'info', msg: 'm/policy.onnx runs on the CPU execution provider' })]);
    await s.session.release();
  });

  it('auto and cuda follow whether the CUDA execution provider loads here', async () => {
    const log = recorder();
    const s = await createSession(MODEL, 'm/policy.onnx', { device: 'auto', logger: log });
    if (await cudaAvailable()) {
      expect(s.executionProvider).toBe('cuda');
    } else {
      expect(s.executionProvider).toBe('cpu');
      const warn = log.lines.find((l) => l.level === 'warn');
      expect(warn?.msg).toMatch(/^m\/policy\.onnx: CUDA execution provider unavailable \(.+\); falling back to the CPU execution provider$/);
      expect(warn?.obj.reason).toEqual(expect.any(String));
      await expect(createSession(MODEL, 'm/policy.onnx', { device: 'cuda', logger: recorder() })).rejects.toThrow(
        /^PRM_DEVICE=cuda but the CUDA execution provider failed for m\/policy\.onnx: /,
      );
    }
    await s.session.release();
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

/**
 * Runs a Python script in the trainer's environment from the repository root, asynchronously
 * (a service answering in this process stays responsive); rejects with the end of its stderr.
 */
import { spawn } from 'node:child_process';
import { requireTrainerPython } from '../../scripts/trainer-python.js';

const ROOT = new URL('../../', import.meta.url).pathname;

export function runPythonScript(script: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, PYTHONDONTWRITEBYTECODE: '1', TRANSFORMERS_VERBOSITY: 'error' };
    const child = spawn(requireTrainerPython(), ['-c', script, ...args], { cwd: ROOT, env });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`python exited ${code}: ${err.slice(-2000)}`))));
  });
}

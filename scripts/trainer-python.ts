/**
 * The Python interpreter of the trainer's locked environment (`trainer/.venv`, made by
 * `bash trainer/setup-venv.sh`): the bench's PyTorch side and the tests that run Python use it, so
 * every Python child runs on the pinned packages. `TRAINER_PYTHON` points elsewhere.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DEFAULT = fileURLToPath(new URL('../trainer/.venv/bin/python', import.meta.url));

export const TRAINER_PYTHON = process.env.TRAINER_PYTHON || DEFAULT;

/** Throws with the command that makes the environment when the interpreter is missing. */
export function requireTrainerPython(): string {
  if (!existsSync(TRAINER_PYTHON)) {
    throw new Error(`${TRAINER_PYTHON} not found: run \`bash trainer/setup-venv.sh\` (or set TRAINER_PYTHON)`);
  }
  return TRAINER_PYTHON;
}

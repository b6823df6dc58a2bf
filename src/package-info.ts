/**
 * The package's name, version and description, read from package.json. The file sits one folder
 * above src/ when run from source (tsx) and two above dist/src/ when compiled, so both are tried.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface PackageInfo {
  name: string;
  version: string;
  description: string;
}

export function packageInfo(): PackageInfo {
  for (const rel of ['../package.json', '../../package.json']) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8')) as PackageInfo;
  }
  throw new Error('package.json not found next to the source or the compiled output');
}

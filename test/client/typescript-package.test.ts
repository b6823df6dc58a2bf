/**
 * The TypeScript client as users get it: `npm pack` of clients/typescript (which builds it), the
 * tarball installed offline into an empty project, imported from JavaScript and type-checked
 * from TypeScript against its shipped declarations, calling a live service. A proxy that drops
 * every connection stands in for the network, so a download attempt fails the test.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrmClient } from '../../src/client/index.js';
import { startLiveServer, type TestApp as LiveServer } from '../harness/app.js';
import { runCommand, startTrapProxy, type TrapProxy } from './offline-install.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const PACKAGE_DIR = join(ROOT, 'clients/typescript');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const PROMPT = '48+27-39*2';
const STEPS = ['48+27=75', '75-39=36', '36*2=72', 'Answer: 72'];

const CONSUMER_JS = `
import { PrmClient, PrmApiError } from 'implicit-prm-client';
const prm = new PrmClient({ baseUrl: process.argv[2], maxRetries: 0 });
const scored = await prm.scoreSteps(process.argv[3], JSON.parse(process.argv[4]));
let refused = null;
try { await prm.scoreSteps('1+1', ['1+1=2', '']); } catch (err) { refused = err instanceof PrmApiError ? [err.status, err.code] : String(err); }
console.log(JSON.stringify({ score: scored.score, steps: scored.steps.length, refused, models: (await prm.models()).default_model }));
`;

const CONSUMER_TS = `
import { PrmClient, PrmApiError, type ItemResult, type ScoreItem } from 'implicit-prm-client';
const prm: PrmClient = new PrmClient({ baseUrl: 'http://127.0.0.1:1', timeoutMs: 1000 });
const items: ScoreItem[] = [{ prompt: '1+1', steps: ['1+1=2'] }];
export async function best(): Promise<number> {
  const { results } = await prm.score(items, { aggregate: 'min', token_rewards: true });
  const first: ItemResult = results[0]!;
  return first.score;
}
export const isRetryable = (err: unknown): boolean => err instanceof PrmApiError && err.retryable;
`;

let server: LiveServer;
let proxy: TrapProxy;
let dir = '';
let tarball = '';

beforeAll(async () => {
  server = await startLiveServer();
  proxy = await startTrapProxy();
  dir = mkdtempSync(join(tmpdir(), 'prm-ts-client-'));
});

afterAll(async () => {
  await server?.close();
  await proxy?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('TypeScript client package (clients/typescript)', () => {
  it('packs built JavaScript and declarations only, with no dependencies', async () => {
    const packed = await runCommand('npm', ['pack', '--json', '--pack-destination', dir], { cwd: PACKAGE_DIR, env: proxy.env() });
    expect(packed.code, packed.output).toBe(0);
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    tarball = join(dir, info!.filename);
    const files = info!.files.map((f) => f.path).sort();
    expect(files).toContain('dist/client/index.js');
    expect(files).toContain('dist/client/index.d.ts');
    expect(files.filter((f) => !/\.(js|d\.ts)$|^package\.json$|^README\.md$/.test(f))).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest.dependencies ?? {}).toEqual({});
  });

  it('installs offline into an empty project, without onnxruntime', async () => {
    const project = join(dir, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    const installed = await runCommand('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: project, env: proxy.env() });
    expect(installed.code, installed.output).toBe(0);
    expect(readdirSync(join(project, 'node_modules')).filter((n) => !n.startsWith('.'))).toEqual(['implicit-prm-client']);
    expect(proxy.attempts()).toBe(0);
  });

  it('is imported from JavaScript and scores against the live service', async () => {
    const project = join(dir, 'project');
    writeFileSync(join(project, 'consumer.mjs'), CONSUMER_JS);
    const ran = await runCommand(process.execPath, ['consumer.mjs', server.url, PROMPT, JSON.stringify(STEPS)], { cwd: project });
    expect(ran.code, ran.output).toBe(0);
    const got = JSON.parse(ran.stdout) as { score: number; steps: number; refused: unknown; models: string };
    const want = await new PrmClient({ baseUrl: server.url }).scoreSteps(PROMPT, STEPS);
    expect(got).toEqual({ score: want.score, steps: 4, refused: [400, 'EMPTY_STEP'], models: 'tiny-logprobs' });
  });

  it('type-checks a TypeScript consumer against the shipped declarations', async () => {
    const project = join(dir, 'project');
    writeFileSync(join(project, 'consumer.ts'), CONSUMER_TS);
    writeFileSync(join(project, 'bad.ts'), "import { PrmClient } from 'implicit-prm-client';\nnew PrmClient({ baseUrl: 1 });\n");
    // No @types/node in the project: the declarations must stand on the standard library and DOM.
    const check = (file: string) => {
      const compilerOptions = { strict: true, noEmit: true, skipLibCheck: false, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], types: [] };
      writeFileSync(join(project, `tsconfig.${file}.json`), JSON.stringify({ compilerOptions, files: [file] }));
      return runCommand(process.execPath, [TSC, '-p', `tsconfig.${file}.json`], { cwd: project });
    };
    const good = await check('consumer.ts');
    expect(good.code, good.output).toBe(0);
    const bad = await check('bad.ts');
    expect(bad.output).toMatch(/bad\.ts\(2,\d+\): error TS2322/);
  });
});

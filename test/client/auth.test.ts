/**
 * Every client against a service that requires API keys (API_KEYS): the key is sent where it was
 * given (constructor option, --api-key, PRM_API_KEY, the Python client's api_key, the playground's
 * Connection field) and a missing or wrong key surfaces as UNAUTHORIZED, never as a silent failure.
 */
import { spawn } from 'node:child_process';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrmClient } from '../../src/client/index.js';
import { requireTrainerPython } from '../../scripts/trainer-python.js';
import { jsonLines, runCli } from '../cli/run-cli.js';
import { startLiveServer, type TestApp as LiveServer } from '../harness/app.js';

const KEY = 'test-key-0123456789';
const TRACE = { prompt: '12+5', steps: ['12+5=17', 'Answer: 17'] };
const ROOT = new URL('../../', import.meta.url).pathname;

let server: LiveServer;
beforeAll(async () => {
  server = await startLiveServer({ API_KEYS: `other-key,${KEY}` });
});
afterAll(() => server?.close());

describe('API keys', () => {
  it('TypeScript client: sends apiKey; without it the service answers UNAUTHORIZED', async () => {
    await expect(new PrmClient({ baseUrl: server.url }).score([TRACE])).rejects.toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    await expect(new PrmClient({ baseUrl: server.url, apiKey: 'wrong' }).score([TRACE])).rejects.toMatchObject({ status: 401 });
    const res = await new PrmClient({ baseUrl: server.url, apiKey: KEY }).score([TRACE]);
    expect(res.results).toHaveLength(1);
  });

  it('prm score: --api-key or PRM_API_KEY; a refused key stops the run with exit 2', async () => {
    const input = JSON.stringify({ id: 'k', ...TRACE }) + '\n';
    const refused = await runCli(['score', '--url', server.url], { input });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('UNAUTHORIZED');
    const flag = await runCli(['score', '--url', server.url, '--api-key', KEY], { input });
    expect(flag.code).toBe(0);
    expect(jsonLines(flag.stdout)[0]).toHaveProperty('score');
    const env = await runCli(['score'], { input, env: { PRM_URL: server.url, PRM_API_KEY: KEY } });
    expect(env.code).toBe(0);
  });

  it('Python client: api_key is sent', async () => {
    const script = [
      'import sys; sys.path.insert(0, "clients/python")',
      'from implicit_prm_client import PrmClient, PrmError',
      `url = "${server.url}"`,
      'try:\n    PrmClient(url).score_steps("12+5", ["12+5=17"])\n    print("no error")\nexcept PrmError as e:\n    print(e.status, e.code)',
      `print(round(PrmClient(url, api_key="${KEY}").score_steps("12+5", ["12+5=17"])["score"], 3) is not None)`,
    ].join('\n');
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(requireTrainerPython(), ['-c', script], { cwd: ROOT, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.stderr.on('data', (d: Buffer) => (text += d.toString()));
      child.on('error', reject);
      child.on('close', () => resolve(text));
    });
    expect(out.trim().split('\n')).toEqual(['401 UNAUTHORIZED', 'True']);
  });

  it('playground: the page is public, and scoring works once the key is entered', async () => {
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${server.url}/playground`);
      await page.waitForSelector('#status.error');
      expect(await page.textContent('#status')).toContain('needs an API key');
      await page.fill('#api-key', KEY);
      await page.dispatchEvent('#api-key', 'change');
      await page.waitForSelector('#model option[value="tiny-logprobs"]', { state: 'attached' });
      await page.click('#score');
      await page.waitForSelector('tr.step');
      expect(await page.locator('tr.step').count()).toBe(4);
      // The key stays in this tab's session storage, never in long-lived storage.
      const stored = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.getItem('implicit-prm.api-key') }));
      expect(stored).toEqual({ local: 0, session: KEY });
    } finally {
      await browser.close();
    }
  });
});

/**
 * The playground end to end: real Chromium (Debian's, driven by playwright-core) against a real
 * service with the tiny test bundles. It scores an example through the page and checks that every
 * number the page shows equals the API's answer for the same trace, at the displayed precision;
 * that token rewards appear on hover; that errors are shown; and that the page loads nothing from
 * anywhere but the service. The screenshot in artifacts/playground.png is for people to look at.
 */
import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrmClient } from '../../src/client/index.js';
import { startLiveServer, type TestApp as LiveServer } from '../harness/app.js';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  // Without these Chromium keeps trying to reach Google services on a closed network.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const ARTIFACTS = new URL('../../artifacts/', import.meta.url).pathname;

// Written out here rather than imported from the page, so a formatting bug there shows up.
const signed = (x: number) => (x > 0 ? '+' : '') + x.toFixed(4);
const plain = (x: number) => x.toFixed(4);

let server: LiveServer;
let browser: Browser;
let page: Page;
const foreignRequests: string[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  server = await startLiveServer();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  page.on('request', (r) => {
    if (!r.url().startsWith(server.url) && !r.url().startsWith('data:')) foreignRequests.push(r.url());
  });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  // A server error behind a page failure is named in the last test's message.
  page.on('response', async (r) => {
    if (r.status() >= 500) pageErrors.push(`${r.url()}: ${r.status()} ${await r.text()}`);
  });
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function scoreOnPage(): Promise<void> {
  const before = Number((await page.getAttribute('body', 'data-scored')) ?? 0);
  await page.click('#score');
  await page.waitForFunction((n) => Number(document.body.dataset.scored ?? 0) > n, before);
}

describe('playground', () => {
  it('is served with a policy that forbids anything outside the service', async () => {
    const res = await fetch(`${server.url}/playground`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await res.text();
    expect(html).not.toMatch(/https?:\/\//);
  });

  it('scores an example and shows exactly the API values', async () => {
    await page.goto(`${server.url}/playground`);
    await page.waitForSelector('#model option[value="tiny-logprobs"]', { state: 'attached' });
    await page.selectOption('#example', { label: 'Borrow mistake: 48+27-39*2' });
    await page.selectOption('#model', 'tiny-logits');
    await page.selectOption('#aggregate', 'mean');
    await scoreOnPage();

    const prompt = await page.inputValue('#prompt');
    const steps = (await page.inputValue('#solution')).split('\n');
    expect(prompt).toBe('48+27-39*2');
    expect(steps).toEqual(['48+27=75', '75-39=44', '44*2=88', 'Answer: 88']);

    const api = await new PrmClient({ baseUrl: server.url }).score([{ prompt, steps }], {
      model: 'tiny-logits',
      aggregate: 'mean',
      token_rewards: true,
    });
    const want = api.results[0]!;

    const rows = await page.$$eval('tr.step', (trs) =>
      trs.map((tr) => ({
        reward: tr.querySelector('.reward')!.textContent,
        q: tr.querySelector('.q')!.textContent,
        value: tr.querySelector('.value')!.textContent,
        tokens: tr.querySelector('.count')!.textContent,
        tokenCells: tr.querySelectorAll('.tok').length,
        text: Array.from(tr.querySelectorAll('.tok:not(.special)'), (t) => t.textContent).join(''),
      })),
    );
    expect(rows).toEqual(
      want.steps.map((s, k) => ({
        reward: signed(s.reward),
        q: signed(s.q),
        value: plain(s.value),
        tokens: String(s.tokens),
        tokenCells: s.tokens,
        text: steps[k],
      })),
    );
    expect(await page.textContent('#summary-score .figure')).toBe(signed(want.score));
    expect(await page.textContent('#summary-outcome .figure')).toBe(signed(want.outcome_reward));
    expect(await page.textContent('#summary-value .figure')).toBe(plain(want.steps.at(-1)!.value));
    expect(await page.textContent('#summary-model .figure')).toBe('tiny-logits');
    // The q curve: one point per step.
    expect(await page.locator('#chart circle.point').count()).toBe(want.steps.length);
  });

  it('shows a token reward on hover', async () => {
    const api = await new PrmClient({ baseUrl: server.url }).score(
      [{ prompt: '48+27-39*2', steps: ['48+27=75', '75-39=44', '44*2=88', 'Answer: 88'] }],
      { model: 'tiny-logits', token_rewards: true },
    );
    const tokenRewards = api.results[0]!.token_rewards!;
    // Step 2, fourth token: the "3" of "75-39=44".
    await page.hover('tr.step[data-step="1"] .tok[data-index="3"]');
    await page.waitForSelector('#tooltip:not([hidden])');
    expect(await page.textContent('#tooltip .tip-token .v')).toBe('"3"');
    expect(await page.textContent('#tooltip .tip-reward .v')).toBe(signed(tokenRewards[1]![3]!));
    // The last token of the last step is the end-of-sequence token.
    await page.hover('tr.step[data-step="3"] .tok.special');
    expect(await page.textContent('#tooltip .tip-token .v')).toBe('"⟨eos⟩"');
    expect(await page.textContent('#tooltip .tip-reward .v')).toBe(signed(tokenRewards[3]!.at(-1)!));
    await page.hover('#chart circle.point >> nth=2');
    expect(await page.textContent('#tooltip .tip-q .v')).toBe(signed(api.results[0]!.steps[2]!.q));

    // Leave a tooltip on screen for the screenshot people look at.
    await page.hover('tr.step[data-step="1"] .tok[data-index="6"]');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}playground.png`, fullPage: true });
  });

  it('colours steps by reward or, on request, by value', async () => {
    const tints = () => page.$$eval('tr.step', (trs) => trs.map((tr) => (tr as HTMLElement).style.getPropertyValue('--tint')));
    const result = (await new PrmClient({ baseUrl: server.url }).score(
      [{ prompt: '48+27-39*2', steps: ['48+27=75', '75-39=44', '44*2=88', 'Answer: 88'] }],
      { model: 'tiny-logits' },
    )).results[0]!;
    const hue = (x: number) => (x >= 0 ? '22, 163, 74' : '220, 38, 38'); // green up, red down
    expect((await tints()).map((t) => t.slice(5, 16))).toEqual(result.steps.map((s) => hue(s.reward)));
    await page.check('input[name="color-by"][value="value"]');
    expect((await tints()).map((t) => t.slice(5, 16))).toEqual(result.steps.map((s) => hue(s.value - 0.5)));
    await page.check('input[name="color-by"][value="reward"]');
  });

  it('scores a pasted problem and reports API errors on the page', async () => {
    await page.fill('#prompt', '12+5');
    await page.fill('#solution', '12+5=17\n\nAnswer: 17\n');
    expect(await page.inputValue('#example')).toBe(''); // editing leaves the examples
    await scoreOnPage();
    expect(await page.locator('tr.step').count()).toBe(2); // the blank line is not a step

    await page.fill('#prompt', '1+'.repeat(200) + '1');
    await page.click('#score');
    await page.waitForSelector('#status.error');
    expect(await page.textContent('#status')).toContain('SEQUENCE_TOO_LONG');
  });

  it('loaded nothing from outside the service and raised no script errors', () => {
    expect(foreignRequests).toEqual([]);
    expect(pageErrors.filter((e) => !e.includes('413'))).toEqual([]);
  });
});

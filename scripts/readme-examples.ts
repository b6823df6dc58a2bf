/**
 * `npm run readme:examples`: runs the README's request examples against the real service (the
 * bundles in MODELS_DIR, default `models`) and writes each request, as a curl command, and its
 * actual response into README.md between `<!-- example:NAME -->` and `<!-- /example:NAME -->`.
 * The README therefore shows real output, and regenerating it after retraining is one command.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { buildApp, scoringServiceFor } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/logger.js';

interface Example {
  name: string;
  url: string;
  body: object;
}

const EXAMPLES: Example[] = [
  {
    name: 'score',
    url: '/v1/score',
    body: {
      // The arithmetic domain of models/arith-tiny (trainer/README.md): operations apply left to
      // right. Item b makes the classic subtraction slip (smaller digit from larger) at step 1.
      items: [
        { id: 'a', prompt: '63-28+15', steps: ['63-28=35', '35+15=50', 'Answer: 50'] },
        { id: 'b', prompt: '63-28+15', steps: ['63-28=45', '45+15=60', 'Answer: 60'] },
      ],
      options: { aggregate: 'min' },
    },
  },
  {
    name: 'get_reward',
    url: '/get_reward?aggregate=min',
    body: { query: ['63-28+15\n63-28=35\n35+15=50\nAnswer: 50'], prompts: ['63-28+15'] },
  },
];

/** JSON with two-space indents, but lists of numbers or strings kept on one line. */
export function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/\[\s*([^[\]{}]*?)\s*\]/g, (_m, inner: string) =>
    `[${(JSON.parse(`[${inner}]`) as unknown[]).map((v) => JSON.stringify(v)).join(', ')}]`,
  );
}

function curl(e: Example): string {
  const body = JSON.stringify(e.body).replace(/'/g, `'\\''`);
  return `curl -s 'localhost:8080${e.url}' -H 'content-type: application/json' -d '${body}'`;
}

const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' });
const scoring = scoringServiceFor(config, silentLogger);
const app = await buildApp({ config, scoring });
try {
  await scoring.whenLoaded();
  const readiness = scoring.readiness();
  if (!readiness.ready) throw new Error(`the service is not ready: ${JSON.stringify(readiness)}`);

  const readmeUrl = new URL('../README.md', import.meta.url);
  let readme = readFileSync(readmeUrl, 'utf8');
  for (const e of EXAMPLES) {
    const res = await app.inject({ method: 'POST', url: e.url, payload: e.body });
    if (res.statusCode !== 200) throw new Error(`${e.url} answered ${res.statusCode}: ${res.body}`);
    const block = `<!-- example:${e.name} -->\n\`\`\`sh\n${curl(e)}\n\`\`\`\n\n\`\`\`json\n${formatJson(res.json())}\n\`\`\`\n<!-- /example:${e.name} -->`;
    const pattern = new RegExp(`<!-- example:${e.name} -->[\\s\\S]*?<!-- /example:${e.name} -->`);
    if (!pattern.test(readme)) throw new Error(`README.md has no <!-- example:${e.name} --> block`);
    readme = readme.replace(pattern, () => block);
  }
  writeFileSync(readmeUrl, readme);
  console.log(`README.md examples written with ${scoring.defaultModel()} from ${config.modelsDir}`);
} finally {
  await app.close();
  await scoring.close();
}

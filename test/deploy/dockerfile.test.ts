// Dockerfile and Dockerfile.cuda: no Docker engine runs here, so these checks stand in for a build.
// They read the files' structure and compare it with the repository: what is copied exists and
// is not ignored, the entry point is what tsc produces, the env is what config.ts reads.
import { describe, expect, it } from 'vitest';
import { contextSources, dockerignoreMatcher, parseDockerfile, stageEnv, type ParsedDockerfile } from './dockerfile.js';
import { exists, listFiles, readJson, readText } from './repo.js';
import { NON_SERVICE_ENV, compiledPath, configProblems, configVarNames, servedPaths } from './service-facts.js';

const FILES = { cpu: 'Dockerfile', cuda: 'Dockerfile.cuda' } as const;
const parsed: Record<keyof typeof FILES, ParsedDockerfile> = {
  cpu: parseDockerfile(FILES.cpu),
  cuda: parseDockerfile(FILES.cuda),
};

const runs = (df: ParsedDockerfile) => df.stages.flatMap((s) => s.instrs.filter((i) => i.keyword === 'RUN').map((i) => ({ stage: s, text: i.text })));

describe.each(Object.entries(FILES) as [keyof typeof FILES, string][])('%s image (%s)', (kind, file) => {
  const df = parsed[kind];
  const final = df.final;
  const only = (keyword: string) => final.instrs.filter((i) => i.keyword === keyword);

  it('runs as a numeric non-root user (Kubernetes runAsNonRoot can only verify numeric ids)', () => {
    const users = only('USER');
    expect(users.length, 'final stage has no USER').toBeGreaterThan(0);
    const user = users[users.length - 1].args[0];
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user.split(':')[0])).toBeGreaterThan(0);
  });

  it('exposes 8080, the default PORT', () => {
    expect(only('EXPOSE').flatMap((i) => i.args)).toContain('8080');
    expect(stageEnv(df, final).PORT ?? '8080').toBe('8080');
  });

  it('has a HEALTHCHECK on the liveness route, run with node (slim images have no curl)', () => {
    const hc = only('HEALTHCHECK');
    expect(hc).toHaveLength(1);
    const text = hc[0].text;
    expect(text).toMatch(/CMD \["node",/);
    const path = /127\.0\.0\.1:[^/]*(\/[a-z/]+)/.exec(text)?.[1];
    expect(path).toBe('/health/live');
    expect(servedPaths().has(path!), `${path} is not a route in src/ or openapi/openapi.json`).toBe(true);
  });

  it('starts the compiled server with node, in exec form so SIGTERM reaches it', () => {
    const cmd = only('CMD');
    expect(cmd).toHaveLength(1);
    expect(cmd[0].json).toEqual(['node', compiledPath('src/server.ts')]);
    expect(exists('src/server.ts'), 'src/server.ts (the entry point) does not exist').toBe(true);
    expect(only('ENTRYPOINT')).toHaveLength(0);
    const build = readJson<{ scripts: Record<string, string> }>('package.json').scripts.build;
    expect(build).toMatch(/^tsc\b/);
    expect(runs(df).some((r) => /npm run build/.test(r.text))).toBe(true);
  });

  it('installs from the lockfile, and only production dependencies into the runtime', () => {
    const ci = runs(df).filter((r) => /\bnpm ci\b/.test(r.text));
    expect(ci.length).toBeGreaterThanOrEqual(2);
    expect(runs(df).some((r) => /\bnpm install\b/.test(r.text)), 'npm install ignores the lockfile').toBe(false);
    for (const r of ci) {
      expect(contextSources(r.stage)).toEqual(expect.arrayContaining(['package.json', 'package-lock.json']));
      // onnxruntime-node's install script must not run inside npm ci, whatever the image's npm.
      expect(stageEnv(df, r.stage).ONNXRUNTIME_NODE_INSTALL).toBe('skip');
    }
    // The stage whose node_modules reach the runtime must have left dev dependencies out.
    const copied = final.instrs.find((i) => i.keyword === 'COPY' && i.from !== undefined && i.args.some((a) => a.includes('node_modules')));
    const source = df.stages.find((s) => s.name === copied?.from);
    expect(source, 'runtime copies node_modules from no stage').toBeDefined();
    expect(source!.instrs.some((i) => i.keyword === 'RUN' && /npm ci\b.*--omit=dev/.test(i.text))).toBe(true);
  });

  it('copies only files that exist and that .dockerignore lets through', () => {
    const ignored = dockerignoreMatcher(readText('.dockerignore'));
    for (const stage of df.stages) {
      for (const src of contextSources(stage)) {
        // models/ is the trainer's output; its own test below says so when it is missing.
        if (src !== 'models') expect(exists(src), `${file}: COPY ${src} does not exist`).toBe(true);
        expect(ignored(src), `${file}: COPY ${src} is excluded by .dockerignore`).toBe(false);
      }
    }
  });

  it('copies --from only earlier stages', () => {
    const seen = new Set<string>();
    for (const stage of df.stages) {
      for (const i of stage.instrs.filter((x) => x.from !== undefined)) {
        expect(seen.has(i.from!), `${file}: COPY --from=${i.from} is not an earlier stage`).toBe(true);
      }
      if (stage.name) seen.add(stage.name);
    }
  });

  it('bakes in at least one model bundle (models/<name>/prm.json)', () => {
    expect(contextSources(final)).toContain('models');
    const bundles = listFiles('models', ['prm.json']);
    expect(bundles.length, 'models/ holds no bundle: export one with the trainer before building the image').toBeGreaterThan(0);
  });

  it('sets only environment variables the service (or a named tool) reads, with values it accepts', async () => {
    const known = await configVarNames();
    const env: Record<string, string> = {};
    for (const stage of df.stages) Object.assign(env, ...stage.instrs.map((i) => i.env ?? {}));
    for (const name of Object.keys(env)) {
      expect(known.has(name) || name in NON_SERVICE_ENV, `${file}: ENV ${name} is not read by src/config.ts`).toBe(true);
    }
    expect(await configProblems(stageEnv(df, final))).toEqual([]);
  });
});

describe('CPU image', () => {
  const df = parsed.cpu;

  it('builds on node:20-bookworm-slim in every stage', () => {
    for (const s of df.stages) expect(s.image).toMatch(/^(node:20-bookworm-slim(@sha256:[0-9a-f]{64})?|deps|build|prod-deps)$/);
  });

  it('scores on the CPU', () => {
    expect(stageEnv(df, df.final).PRM_DEVICE).toBe('cpu');
  });

  it('keeps onnxruntime-node from downloading CUDA files (offline-capable build)', () => {
    for (const s of df.stages) expect(stageEnv(df, s).ONNXRUNTIME_NODE_INSTALL ?? 'skip').toBe('skip');
    for (const r of runs(df)) expect(r.text).not.toMatch(/onnxruntime-node\/script\/install/);
  });
});

describe('CUDA image', () => {
  const df = parsed.cuda;

  it('runs on a CUDA 12 + cuDNN 9 runtime image on Ubuntu 22.04 (what onnxruntime GPU builds need)', () => {
    expect(df.final.image).toMatch(/^nvidia\/cuda:12\.\d+(\.\d+)?-cudnn(9)?-runtime-ubuntu22\.04(@sha256:[0-9a-f]{64})?$/);
    expect(df.final.instrs.some((i) => i.keyword === 'COPY' && i.args.includes('/usr/local/bin/node'))).toBe(true);
    const nodeStage = df.stages.find((s) => s.name === 'node');
    expect(nodeStage?.image).toMatch(/^node:20[.-]/);
  });

  it('scores on the GPU', () => {
    expect(stageEnv(df, df.final).PRM_DEVICE).toBe('cuda');
  });

  it('installs the CUDA 12 execution provider after installing production dependencies', () => {
    const prod = df.stages.find((s) => s.instrs.some((i) => i.keyword === 'RUN' && /npm ci\b.*--omit=dev/.test(i.text)));
    expect(prod).toBeDefined();
    const run = prod!.instrs.find((i) => i.keyword === 'RUN' && /npm ci\b.*--omit=dev/.test(i.text))!.text;
    // npm ci runs no install script; onnxruntime-node's is then run once with the CUDA switch.
    expect(run).toMatch(/npm ci\b[^&]*&&\s*\\?\s*ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node\/script\/install\.js/);
    expect(run).toMatch(/test -f node_modules\/onnxruntime-node\/bin\/napi-v6\/linux\/x64\/libonnxruntime_providers_cuda\.so/);
  });

  it('says that it needs the network at build time', () => {
    expect(readText('Dockerfile.cuda')).toMatch(/NETWORK AT BUILD TIME/);
  });
});

describe('.dockerignore', () => {
  const ignored = dockerignoreMatcher(readText('.dockerignore'));

  it('keeps host builds, VCS data, trainer runs, bench work and caches out of the context', () => {
    for (const p of ['node_modules', 'node_modules/x/y.js', 'dist/src/server.js', '.git/HEAD', 'trainer/runs/a/ckpt.pt', 'bench/work/out.json', 'src/__pycache__/x.pyc', 'a/b.pyc', 'coverage/index.html', '.env']) {
      expect(ignored(p), p).toBe(true);
    }
  });

  it('keeps what the build needs', () => {
    for (const p of ['src/server.ts', 'package.json', 'package-lock.json', 'tsconfig.json', 'models/arith-tiny/prm.json']) {
      expect(ignored(p), p).toBe(false);
    }
  });

  it('matcher: folder patterns cover their contents, ** spans folders, ! re-includes', () => {
    const m = dockerignoreMatcher('dist\n**/*.log\nlogs/*\n!logs/keep.log');
    expect([m('dist/a/b'), m('a/b/c.log'), m('logs/x.txt'), m('logs/keep.log'), m('distx')]).toEqual([true, true, true, false, false]);
  });
});

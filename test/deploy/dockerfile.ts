/**
 * A Dockerfile as stages of instructions (parsed by dockerfile-ast, which handles continuations
 * and JSON forms), plus .dockerignore matching, for the Dockerfile tests.
 */
import { DockerfileParser } from 'dockerfile-ast';
import { readText } from './repo.js';

export interface Instr {
  keyword: string;
  /** Arguments as words, flags included (`--from=build`). */
  args: string[];
  /** The raw argument text (for RUN and HEALTHCHECK shell/JSON commands). */
  text: string;
  /** JSON (exec) form values, when the instruction uses one. */
  json?: string[];
  /** ENV key=value pairs. */
  env?: Record<string, string>;
  /** COPY --from value. */
  from?: string;
}

export interface Stage {
  name: string | undefined;
  /** Image after substituting global ARG defaults. */
  image: string;
  instrs: Instr[];
}

export interface ParsedDockerfile {
  globalArgs: Record<string, string>;
  stages: Stage[];
  final: Stage;
}

export function parseDockerfile(path: string): ParsedDockerfile {
  const df = DockerfileParser.parse(readText(path));
  const globalArgs: Record<string, string> = {};
  for (const a of df.getInitialARGs()) {
    const p = a.getProperty();
    if (p?.getName()) globalArgs[p.getName()] = p.getValue() ?? '';
  }
  const subst = (s: string): string => s.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (m, n: string) => globalArgs[n] ?? m);
  const stages: Stage[] = [];
  for (const i of df.getInstructions()) {
    const keyword = i.getKeyword();
    const args = i.getArguments().map((a) => a.getValue());
    if (keyword === 'FROM') {
      // getInstructions() yields dockerfile-ast's From objects for FROM lines.
      const from = i as unknown as { getBuildStage(): string | null; getImage(): string | null };
      stages.push({ name: from.getBuildStage() ?? undefined, image: subst(from.getImage() ?? args[0]), instrs: [] });
      continue;
    }
    const stage = stages[stages.length - 1];
    if (!stage) continue; // global ARGs, handled above
    const instr: Instr = { keyword, args, text: i.getArgumentsContent() ?? '' };
    const anyI = i as unknown as {
      getJSONStrings?: () => { getJSONValue(): string }[];
      getProperties?: () => { getName(): string; getValue(): string | null }[];
      getFromFlag?: () => { getValue(): string | null } | null;
    };
    const json = anyI.getJSONStrings?.();
    if (json && json.length > 0) instr.json = json.map((s) => s.getJSONValue());
    if (keyword === 'ENV' && anyI.getProperties) {
      instr.env = Object.fromEntries(anyI.getProperties().map((p) => [p.getName(), p.getValue() ?? '']));
    }
    if (keyword === 'COPY') instr.from = anyI.getFromFlag?.()?.getValue() ?? undefined;
    stage.instrs.push(instr);
  }
  const final = stages[stages.length - 1];
  if (!final) throw new Error(`${path}: no FROM`);
  return { globalArgs, stages, final };
}

/** ENV of a stage, following `FROM <earlier stage>` chains. */
export function stageEnv(df: ParsedDockerfile, stage: Stage): Record<string, string> {
  const parent = df.stages.find((s) => s.name !== undefined && s.name === stage.image && s !== stage);
  const env = parent ? stageEnv(df, parent) : {};
  for (const i of stage.instrs) Object.assign(env, i.env ?? {});
  return env;
}

/** Build-context sources of COPY/ADD instructions (not --from copies); the last word is the destination. */
export function contextSources(stage: Stage): string[] {
  return stage.instrs
    .filter((i) => (i.keyword === 'COPY' || i.keyword === 'ADD') && i.from === undefined)
    .flatMap((i) => (i.json ?? i.args.filter((a) => !a.startsWith('--'))).slice(0, -1));
}

/**
 * .dockerignore semantics, enough for this repository: patterns are relative to the context
 * root, `*` and `?` stay within one path segment, `**` spans segments, a later `!pattern` re-includes,
 * and excluding a folder excludes everything under it.
 */
export function dockerignoreMatcher(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = (negate ? l.slice(1) : l).replace(/^\/+/, '').replace(/\/+$/, '');
      const re = pattern
        .split(/(\*\*\/?|\*|\?)/)
        .map((part) => {
          if (part === '**/') return '(?:.*/)?';
          if (part === '**') return '.*';
          if (part === '*') return '[^/]*';
          if (part === '?') return '[^/]';
          return part.replace(/[.+^${}()|[\]\\]/g, '\\$&');
        })
        .join('');
      return { negate, re: new RegExp(`^${re}(?:/.*)?$`) };
    });
  return (path: string) => {
    const p = path.replace(/^\.\//, '').replace(/\/+$/, '');
    let excluded = false;
    for (const r of rules) if (r.re.test(p)) excluded = !r.negate;
    return excluded;
  };
}

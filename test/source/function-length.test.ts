/**
 * Every function in src/ fits on a screen: at most MAX_LINES lines from its first line to its
 * closing brace, nested functions included in the function around them. A longer function is a
 * sign that it does more than one job; split it into named steps.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;
const MAX_LINES = 60;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

function functionName(node: ts.SignatureDeclaration, file: ts.SourceFile): string {
  if (node.name !== undefined) return node.name.getText(file);
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) return parent.name.getText(file);
  return '(anonymous)';
}

export interface FunctionSpan {
  where: string;
  lines: number;
}

/** Every function-like node with a body in `path`, with its length in lines. */
export function functionSpans(path: string): FunctionSpan[] {
  const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
  const spans: FunctionSpan[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const first = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
      const last = file.getLineAndCharacterOfPosition(node.getEnd()).line;
      spans.push({ where: `${relative(ROOT, path)}:${first + 1} ${functionName(node, file)}`, lines: last - first + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return spans;
}

describe('function length in src/', () => {
  const spans = sourceFiles(join(ROOT, 'src')).flatMap(functionSpans);

  it('finds the functions', () => {
    expect(spans.length).toBeGreaterThan(100);
  });

  it(`has no function longer than ${MAX_LINES} lines`, () => {
    const long = spans.filter((s) => s.lines > MAX_LINES).sort((a, b) => b.lines - a.lines);
    expect(long.map((s) => `${s.where}: ${s.lines} lines`)).toEqual([]);
  });
});

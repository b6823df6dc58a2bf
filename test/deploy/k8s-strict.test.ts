// The Kubernetes JSON schemas allow unknown fields, and so does the API server, which silently
// drops them: a misspelt `readinesProbe` would validate and never probe. TypeScript's excess
// property check on object literals is strict, so each manifest is type-checked as a literal of
// its kubernetes-models interface (IDeployment, IService, ...), in memory.
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { loadManifests } from './k8s.js';
import { abs } from './repo.js';

const MODULE = (apiVersion: string, kind: string) => `kubernetes-models/${apiVersion}/${kind}`;

function typeCheck(source: string): string[] {
  const file = abs('test/deploy/__k8s_manifests__.ts');
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) =>
    name === file ? ts.createSourceFile(name, source, lang) : getSourceFile(name, lang, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram({ rootNames: [file], options, host });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? `line ${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ` : '';
    return where + ts.flattenDiagnosticMessageText(d.messageText, '\n');
  });
}

describe('Kubernetes manifests: no unknown or misspelt fields', () => {
  it('every manifest type-checks as its kubernetes-models interface; a misspelt field is caught', () => {
    const lines = loadManifests().map(
      (m, i) => `// ${m.file}\nexport const m${i}: import('${MODULE(m.doc.apiVersion, m.doc.kind)}').I${m.doc.kind} = ${JSON.stringify(m.doc)};`,
    );
    // The checker's own control: this line must produce an error, or @ts-expect-error itself fails.
    lines.push(
      '// @ts-expect-error readinesProbe is not a Container field',
      `export const bad: import('${MODULE('apps/v1', 'Deployment')}').IDeployment = {"apiVersion":"apps/v1","kind":"Deployment","spec":{"selector":{},"template":{"spec":{"containers":[{"name":"x","readinesProbe":{}}]}}}};`,
    );
    expect(typeCheck(lines.join('\n'))).toEqual([]);
  });
});

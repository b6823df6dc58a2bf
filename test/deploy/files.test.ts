// Every deployment file parses: YAML (duplicate keys are errors, as they are for kubectl and
// compose) and JSON. The other tests in this folder read these files; this one names the broken file.
import { describe, expect, it } from 'vitest';
import { listFiles, readJson, readText, readYamlAll } from './repo.js';
import { configVarNames } from './service-facts.js';

const yamlFiles = listFiles('docker', ['.yaml', '.yml']);
const jsonFiles = listFiles('docker', ['.json']);

describe('deployment files parse', () => {
  it('finds the files', () => {
    expect(yamlFiles.length).toBeGreaterThanOrEqual(15);
    expect(jsonFiles).toContain('docker/grafana/dashboards/implicit-prm.json');
  });

  it.each(yamlFiles)('%s is valid YAML with at least one document', (file) => {
    expect(readYamlAll(file).length).toBeGreaterThan(0);
  });

  it.each(jsonFiles)('%s is valid JSON', (file) => {
    expect(() => readJson(file)).not.toThrow();
  });

  it('the YAML reader rejects duplicate keys', async () => {
    const { parseDocument } = await import('yaml');
    expect(parseDocument('a: 1\na: 2\n').errors.length).toBeGreaterThan(0);
  });
});

describe('docs/deploy.md', () => {
  it('documents every setting src/config.ts reads', async () => {
    const doc = readText('docs/deploy.md');
    const missing = [...(await configVarNames())].filter((v) => !doc.includes(`| \`${v}\` |`));
    expect(missing).toEqual([]);
  });
});

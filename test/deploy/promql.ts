/**
 * Just enough PromQL reading to check dashboards and alert rules against the metrics the service
 * registers: which series an expression selects, with which label matchers, and which labels it
 * groups by. Syntax itself is promtool's job (test/deploy/external-tools.test.ts); this file
 * catches a renamed metric or label, which PromQL syntax alone never does.
 */

export interface Selector {
  metric: string;
  /** Label names used in the selector's matchers. */
  labels: string[];
}

export interface PromqlRefs {
  selectors: Selector[];
  /** Labels named in by/without/on/ignoring/group_left/group_right clauses. */
  groupingLabels: string[];
}

const KEYWORDS = new Set([
  'and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan', 'atan2',
]);

const STRING = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g;

export function readPromql(expr: string): PromqlRefs {
  const selectors: Selector[] = [];
  const groupingLabels: string[] = [];
  // Range and subquery brackets hold durations and Grafana variables ($__rate_interval), no names.
  let rest = expr.replace(/\[[^\]]*\]/g, ' ');
  // Selectors with matchers: name{label="v", ...} or {__name__="..."}.
  rest = rest.replace(/([A-Za-z_:][A-Za-z0-9_:]*)?\s*\{((?:[^{}"]|"(?:[^"\\]|\\.)*")*)\}/g, (_all, name: string | undefined, body: string) => {
    const labels = [...body.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1]);
    const nameMatch = /__name__\s*=\s*"([^"]+)"/.exec(body);
    const metric = name ?? nameMatch?.[1];
    if (metric) selectors.push({ metric, labels: labels.filter((l) => l !== '__name__') });
    return ' ';
  });
  rest = rest.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_all, _kw, body: string) => {
    groupingLabels.push(...body.split(',').map((s) => s.trim()).filter((s) => s.length > 0));
    return ' ';
  });
  rest = rest.replace(STRING, ' ');
  // Remaining identifiers are functions/aggregations (followed by '('), keywords, or bare metrics.
  for (const m of rest.matchAll(/(?<![\w.$])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    if (m[2] !== undefined || KEYWORDS.has(m[1].toLowerCase())) continue;
    selectors.push({ metric: m[1], labels: [] });
  }
  return { selectors, groupingLabels };
}

/**
 * Problems with an expression's references: unknown series, matchers on labels the series does
 * not have, grouping by labels none of its series has. `known` maps series → labels.
 */
export function promqlProblems(expr: string, known: Map<string, Set<string>>, targetLabels: string[]): string[] {
  const { selectors, groupingLabels } = readPromql(expr);
  const problems: string[] = [];
  const available = new Set(targetLabels);
  if (selectors.length === 0) problems.push('selects no metric');
  for (const s of selectors) {
    const labels = known.get(s.metric);
    if (!labels) {
      problems.push(`unknown metric ${s.metric}`);
      continue;
    }
    labels.forEach((l) => available.add(l));
    for (const l of s.labels) {
      if (!labels.has(l) && !targetLabels.includes(l)) problems.push(`${s.metric} has no label ${l}`);
    }
  }
  for (const l of groupingLabels) {
    if (!available.has(l)) problems.push(`groups by ${l}, which none of its metrics has`);
  }
  return problems;
}

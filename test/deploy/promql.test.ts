// The PromQL reader must see every metric and label, or the dashboard/alert checks pass vacuously.
import { describe, expect, it } from 'vitest';
import { promqlProblems, readPromql } from './promql.js';

const known = new Map<string, Set<string>>([
  ['prm_requests_total', new Set(['route', 'status'])],
  ['prm_request_duration_seconds_bucket', new Set(['route', 'le'])],
  ['prm_queue_depth', new Set<string>()],
]);
const target = ['job', 'instance'];

describe('readPromql', () => {
  it('finds selectors with matchers, bare metrics and grouping labels', () => {
    const refs = readPromql(
      'histogram_quantile(0.99, sum by (le, route) (rate(prm_request_duration_seconds_bucket{instance=~"$instance",route="/v1/score"}[$__rate_interval]))) / on (instance) group_left prm_queue_depth',
    );
    expect(refs.selectors).toEqual([
      { metric: 'prm_request_duration_seconds_bucket', labels: ['instance', 'route'] },
      { metric: 'prm_queue_depth', labels: [] },
    ]);
    expect(refs.groupingLabels).toEqual(['le', 'route', 'instance']);
  });

  it('ignores functions, keywords, durations, numbers and strings', () => {
    const refs = readPromql('absent(up{job="implicit-prm"}) or vector(1e3) offset 5m and label_replace(prm_queue_depth, "x", "$1", "y", "(.*)")');
    expect(refs.selectors.map((s) => s.metric)).toEqual(['up', 'prm_queue_depth']);
  });
});

describe('promqlProblems', () => {
  it('accepts an expression that only uses known metrics and labels', () => {
    expect(promqlProblems('sum by (status) (rate(prm_requests_total{instance=~".*"}[5m]))', known, target)).toEqual([]);
  });

  it('reports an unknown metric, an unknown matcher label and an unknown grouping label', () => {
    expect(promqlProblems('sum by (model) (rate(prm_request_total[5m]))', known, target)).toEqual([
      'unknown metric prm_request_total',
      'groups by model, which none of its metrics has',
    ]);
    expect(promqlProblems('prm_queue_depth{tier="tier1"}', known, target)).toEqual(['prm_queue_depth has no label tier']);
  });

  it('reports an expression that selects nothing', () => {
    expect(promqlProblems('vector(1)', known, target)).toEqual(['selects no metric']);
  });
});

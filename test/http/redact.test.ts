/** The public health view's redaction: paths keep their last part, backends lose their address. */
import { describe, expect, it } from 'vitest';
import { redactDetail } from '../../src/http/redact.js';

describe('redactDetail', () => {
  it.each([
    ['cannot read the models directory /tmp/x/models/absent: ENOENT', 'cannot read the models directory …/absent: ENOENT'],
    ['scoring uncached: connect ECONNREFUSED 127.0.0.1:6379', 'scoring uncached: connect ECONNREFUSED <address>'],
    ['redis://user:pw@redis.internal:6380/0 is down', 'redis://<address> is down'],
    ['seeds redis-0.redis.svc:6379, [::1]:7000', 'seeds <address>, <address>'],
    ['failed: prm.json: "format_version" must be 1 (missing)', 'failed: prm.json: "format_version" must be 1 (missing)'],
    ['missing file: reference.onnx; ratio 1/2', 'missing file: reference.onnx; ratio 1/2'],
  ])('%s', (text, want) => {
    expect(redactDetail(text)).toBe(want);
  });
});

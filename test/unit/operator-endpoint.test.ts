import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OffsetClock } from '../../src/platform/clock.ts';
import { routeOperatorRequest } from '../../src/protocols/operator/operator-endpoint.ts';
import { SourceRateLimit } from '../../src/protocols/operator/source-rate-limit.ts';

const refused = (code: string) => (error: unknown) => (error as { code?: string }).code === code;

describe('operator routes under /_sovra/operator/', () => {
  it('map status, unseal and seal to their actions and methods', () => {
    assert.equal(routeOperatorRequest('GET', '/_sovra/operator/status'), 'GetSealStatus');
    assert.equal(routeOperatorRequest('GET', '/_sovra/operator/status?x=1'), 'GetSealStatus');
    assert.equal(routeOperatorRequest('POST', '/_sovra/operator/unseal'), 'Unseal');
    assert.equal(routeOperatorRequest('POST', '/_sovra/operator/seal'), 'Seal');
  });

  it('answer MethodNotAllowed for a wrong method and NotFound for anything else (init is offline only)', () => {
    assert.throws(() => routeOperatorRequest('POST', '/_sovra/operator/status'), refused('MethodNotAllowed'));
    assert.throws(() => routeOperatorRequest('GET', '/_sovra/operator/seal'), refused('MethodNotAllowed'));
    for (const path of [
      '/_sovra/operator/init',
      '/_sovra/operator/',
      '/_sovra/operator/constructor',
      '/bucket',
    ]) {
      assert.throws(() => routeOperatorRequest('POST', path), refused('NotFound'), path);
    }
  });
});

describe('the per-source unseal rate limit', () => {
  it('allows a burst of perMinute, then one more per 60/perMinute seconds', () => {
    const clock = new OffsetClock();
    const limit = new SourceRateLimit({ perMinute: 6, maxSources: 10, clock });
    for (let i = 0; i < 6; i++) assert.equal(limit.take('10.0.0.1'), true);
    assert.equal(limit.take('10.0.0.1'), false);
    assert.equal(limit.retryAfterSeconds('10.0.0.1'), 10);
    assert.equal(limit.take('10.0.0.2'), true, 'other sources are not affected');
    clock.advance(10_000);
    assert.equal(limit.take('10.0.0.1'), true);
    assert.equal(limit.take('10.0.0.1'), false);
  });

  it('tracks at most maxSources addresses, forgetting the least recently seen', () => {
    const clock = new OffsetClock();
    const limit = new SourceRateLimit({ perMinute: 1, maxSources: 2, clock });
    assert.equal(limit.take('a'), true);
    assert.equal(limit.take('b'), true);
    assert.equal(limit.take('a'), false);
    assert.equal(limit.take('c'), true); // 'b' is forgotten
    assert.equal(limit.take('b'), true);
  });
});

import { describe, expect, it } from 'vitest';
import { routeByPrefix } from '../../src/intercept/index.js';
import { rawRequest } from '../support/raw-request.js';

const prefixes = ['/flagd', '/payments', '/team/flags'];
const route = (target: string) => routeByPrefix(rawRequest('POST', target, '', {}), prefixes);

describe('routeByPrefix', () => {
  it.each([
    { target: '/flagd/flags/a/enable', index: 0, inner: '/flags/a/enable' },
    { target: '/flagd', index: 0, inner: '/' },
    { target: '/flagd/', index: 0, inner: '/' },
    { target: '/flagd?x=1', index: 0, inner: '/?x=1' },
    { target: '/payments/flags?a=%2F', index: 1, inner: '/flags?a=%2F' },
    { target: '/team/flags/flags/a', index: 2, inner: '/flags/a' },
  ])('routes $target to prefix $index as $inner', ({ target, index, inner }) => {
    expect(route(target)).toMatchObject({ index, req: { path: inner, method: 'POST' } });
  });

  it.each([
    { target: '/flagd/../payments/flags/a/enable', code: 'ADAPT_TARGET_REFUSED' },
    { target: '/flagd/./flags/a', code: 'ADAPT_TARGET_REFUSED' },
    { target: '/flagd/%2E%2e/payments/flags/a', code: 'ADAPT_TARGET_REFUSED' },
    { target: '/flagd/.%2e/payments/flags/a', code: 'ADAPT_TARGET_REFUSED' },
    { target: '/flagd%2f..%2fpayments/flags/a', code: 'ADAPT_TARGET_REFUSED' },
    { target: '/flagd/flags%2Fa', code: 'ADAPT_TARGET_REFUSED' },
    { target: '/flagd%5c..%5cpayments/flags/a', code: 'ADAPT_TARGET_REFUSED' },
    { target: '/flagd\\..\\payments/flags/a', code: 'ADAPT_TARGET_REFUSED' },
    { target: '//flagd/flags/a', code: 'ADAPT_TARGET_REFUSED' },
    { target: 'http://evil/flagd/flags/a', code: 'ADAPT_TARGET_REFUSED' },
    { target: '/team/../flagd/flags/a', code: 'ADAPT_TARGET_REFUSED' },
    { target: '/team', code: 'ADAPT_ROUTE_UNKNOWN' },
    { target: '/flagdx/flags/a', code: 'ADAPT_ROUTE_UNKNOWN' },
    { target: '/Flagd/flags/a', code: 'ADAPT_ROUTE_UNKNOWN' },
    { target: '/%66lagd/flags/a', code: 'ADAPT_ROUTE_UNKNOWN' },
    { target: '/', code: 'ADAPT_ROUTE_UNKNOWN' },
  ])('refuses $target as $code', ({ target, code }) => {
    const routed = route(target);
    expect('refused' in routed && routed.refused).toMatchObject({ code });
  });
});

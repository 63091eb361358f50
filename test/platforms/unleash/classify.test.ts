import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { classifyUnleash, writeRoutes } from '../../../src/platforms/unleash/index.js';
import type { RawRequest } from '../../../src/intercept/raw-request.js';
import { matchWrite, splitPath } from '../../../src/platforms/unleash/routes.js';

const JSON_TYPE = { 'content-type': 'application/json' };
const P = '/api/admin/projects/default/features';

function request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): RawRequest {
  const bytes =
    body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return {
    method,
    path,
    headers: body === undefined ? headers : { ...JSON_TYPE, ...headers },
    body: bytes,
    bodySha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

const strategyBody = {
  name: 'flexibleRollout',
  parameters: { rollout: '25', stickiness: 'default', groupId: 'checkout' },
  constraints: [{ contextName: 'userId', operator: 'IN', values: ['a'] }],
  segments: [3],
};
const normalizedStrategy = { ...strategyBody, variants: [], rollout: 25 };
const patch = [{ op: 'replace', path: '/description', value: 'new' }];
const strategyPatch = [{ op: 'replace', path: '/title', value: 'new' }];

interface WriteCase {
  name: string;
  method: string;
  path: string;
  body: unknown;
  headers?: Record<string, string>;
  want: Record<string, unknown>;
  /** The target forwarded, when it is not the path as sent. */
  target?: string;
}

const writeCases: WriteCase[] = [
    { name: 'POST features is flag.create, key from body', method: 'POST', path: P, body: { name: 'checkout', type: 'release' },
      want: { action: 'flag.create', project: 'default', flagKey: 'checkout', environment: undefined, environments: [], newState: { name: 'checkout', type: 'release', impressionData: false, stale: false, description: null } } },
    // Unleash's create validator drops what its schema does not list; the path's project is the flag's.
    { name: 'a create records only what Unleash stores', method: 'POST', path: P, body: { name: 'checkout', enabled: true, strategies: [{ name: 'default' }], project: 'other', description: '' },
      want: { action: 'flag.create', project: 'default', flagKey: 'checkout', newState: { name: 'checkout', type: 'release', impressionData: false, stale: false, description: null } } },
    { name: 'a create with tags twice and an empty creation time', method: 'POST', path: P, body: { name: 'checkout', createdAt: null, tags: [{ type: 'simple', value: 'aa' }, { type: 'simple', value: 'aa' }] },
      want: { action: 'flag.create', project: 'default', flagKey: 'checkout', newState: { name: 'checkout', tags: [{ type: 'simple', value: 'aa' }], type: 'release', impressionData: false, stale: false, description: null } } },
    { name: 'PUT feature is flag.update', method: 'PUT', path: `${P}/checkout`, body: { description: 'd' },
      want: { action: 'flag.update', flagKey: 'checkout', environment: '*', environments: ['*'], newState: { name: 'checkout', description: 'd', type: 'release', stale: false, impressionData: false } } },
    // Its update writes the metadata only: the rest of a PUT is dropped, and the entry leaves it out.
    { name: 'a PUT records only the metadata Unleash stores', method: 'PUT', path: `${P}/checkout`, body: { type: 'kill-switch', enabled: true, variants: [], project: 'other', createdAt: '2001-01-01T00:00:00.000Z' },
      want: { action: 'flag.update', flagKey: 'checkout', newState: { name: 'checkout', type: 'kill-switch', stale: false, impressionData: false, description: null } } },
    { name: 'PATCH feature is flag.update with the patch', method: 'PATCH', path: `${P}/checkout`, body: patch,
      want: { action: 'flag.update', flagKey: 'checkout', environment: undefined, environments: [], newState: { patch } } },
    { name: 'PATCH feature beyond the description alters every environment', method: 'PATCH', path: `${P}/checkout`,
      body: [...patch, { op: 'replace', path: '/type', value: 'experiment' }], want: { action: 'flag.update', environments: ['*'] } },
    // Unleash validates the patched flag with its defaults: a member moved away resets (type to release).
    { name: 'PATCH moving /name onto the description alters every environment', method: 'PATCH', path: `${P}/checkout`,
      body: [{ op: 'move', from: '/name', path: '/description' }], want: { action: 'flag.update', environment: '*', environments: ['*'] } },
    { name: 'PATCH copying a member onto the description alters every environment', method: 'PATCH', path: `${P}/checkout`,
      body: [{ op: 'copy', from: '/stale', path: '/description' }], want: { action: 'flag.update', environments: ['*'] } },
    { name: 'PATCH adding, removing or testing only the description alters none', method: 'PATCH', path: `${P}/checkout`,
      body: [{ op: 'test', path: '/description', value: 'a' }, { op: 'add', path: '/description', value: 'b' }, { op: 'remove', path: '/description' }],
      want: { action: 'flag.update', environment: undefined, environments: [] } },
    { name: 'PATCH whose description op carries a stray from alters every environment', method: 'PATCH', path: `${P}/checkout`,
      body: [{ op: 'replace', path: '/description', value: 'x', from: '/type' }], want: { action: 'flag.update', environments: ['*'] } },
    { name: 'DELETE feature is flag.archive', method: 'DELETE', path: `${P}/checkout`, body: undefined,
      want: { action: 'flag.archive', flagKey: 'checkout', environment: '*', newState: { archived: true, dependencies: [] } } },
    { name: 'DELETE archive/:feature is flag.delete', method: 'DELETE', path: '/api/admin/archive/checkout', body: undefined,
      want: { action: 'flag.delete', project: undefined, flagKey: 'checkout', environment: '*', newState: { deleted: true } } },
    { name: 'POST archive/revive/:feature is flag.revive', method: 'POST', path: '/api/admin/archive/revive/checkout', body: undefined,
      want: { action: 'flag.revive', project: undefined, flagKey: 'checkout', environment: '*', newState: { archived: false, enabled: false } } },
    { name: 'POST .../on is flag.enable', method: 'POST', path: `${P}/checkout/environments/production/on`, body: undefined,
      want: { action: 'flag.enable', flagKey: 'checkout', environment: 'production', newState: { enabled: true } } },
    { name: 'POST .../off is flag.disable', method: 'POST', path: `${P}/checkout/environments/development/off`, body: undefined,
      want: { action: 'flag.disable', flagKey: 'checkout', environment: 'development', newState: { enabled: false } } },
    { name: 'POST .../strategies is strategy.create with a numeric rollout', method: 'POST',
      path: `${P}/checkout/environments/production/strategies`, body: strategyBody,
      want: { action: 'strategy.create', flagKey: 'checkout', environment: 'production', newState: normalizedStrategy } },
    { name: 'POST .../strategies records a flexible rollout without one as Unleash stores it, 100, grouped by the flag', method: 'POST',
      path: `${P}/checkout/environments/production/strategies`, body: { name: 'flexibleRollout', parameters: { stickiness: 'default' } },
      want: { action: 'strategy.create', newState: { name: 'flexibleRollout', parameters: { stickiness: 'default', groupId: 'checkout' }, constraints: [], variants: [], segments: [], rollout: 100 } } },
    { name: 'POST .../strategies fills missing lists', method: 'POST',
      path: `${P}/checkout/environments/production/strategies`, body: { name: 'default' },
      want: { action: 'strategy.create', newState: { name: 'default', parameters: {}, constraints: [], variants: [], segments: [] } } },
    { name: 'PUT .../strategies/:id is strategy.update, id from the path', method: 'PUT',
      path: `${P}/checkout/environments/production/strategies/s-1`, body: { ...strategyBody, id: 'other' },
      want: { action: 'strategy.update', environment: 'production', newState: { ...normalizedStrategy, id: 's-1' } } },
    { name: 'PATCH .../strategies/:id is strategy.update with the patch', method: 'PATCH',
      path: `${P}/checkout/environments/production/strategies/s-1`, body: strategyPatch,
      want: { action: 'strategy.update', environment: 'production', newState: { id: 's-1', patch: strategyPatch } } },
    { name: 'DELETE .../strategies/:id is strategy.delete', method: 'DELETE',
      path: `${P}/checkout/environments/production/strategies/s-1`, body: undefined,
      want: { action: 'strategy.delete', environment: 'production', newState: { id: 's-1', deleted: true } } },
    { name: 'literal segments match case-insensitively, as Express does', method: 'post',
      path: '/API/Admin/Projects/default/Features/checkout/Environments/production/ON', body: undefined,
      want: { action: 'flag.enable', project: 'default', flagKey: 'checkout', environment: 'production' },
      target: `${P}/checkout/environments/production/on` },
    { name: 'one trailing slash is ignored, as Express does', method: 'POST', path: `${P}/checkout/environments/production/on/`,
      body: undefined, want: { action: 'flag.enable', flagKey: 'checkout' }, target: `${P}/checkout/environments/production/on` },
    { name: 'parameters are percent-decoded', method: 'POST', path: '/api/admin/projects/my%20proj/features/a%2Eb/environments/prod%2Dx/on',
      body: undefined, want: { action: 'flag.enable', project: 'my proj', flagKey: 'a.b', environment: 'prod-x' },
      target: '/api/admin/projects/my%20proj/features/a.b/environments/prod-x/on' },
    { name: 'a declared query parameter joins the new state', method: 'POST',
      path: `${P}/checkout/environments/production/on?shouldActivateDisabledStrategies=true`, body: undefined,
      want: { action: 'flag.enable', newState: { enabled: true, query: { shouldActivateDisabledStrategies: 'true' } } } },
    { name: 'a query value is re-encoded, "+" read as a space', method: 'POST',
      path: `${P}/checkout/environments/production/on?shouldActivateDisabledStrategies=a+b%21`, body: undefined,
      want: { newState: { enabled: true, query: { shouldActivateDisabledStrategies: 'a b!' } } },
      target: `${P}/checkout/environments/production/on?shouldActivateDisabledStrategies=a%20b!` },
    { name: 'content-type parameters utf-8 are accepted', method: 'PUT', path: `${P}/checkout`, body: { stale: true },
      headers: { 'content-type': 'Application/JSON; charset="UTF-8"' }, want: { action: 'flag.update', newState: { name: 'checkout', stale: true, type: 'release', impressionData: false, description: null } } },
    { name: 'a body-less action takes an empty object, and forwards no body', method: 'POST', path: `${P}/checkout/environments/production/on`,
      body: {}, want: { action: 'flag.enable', newState: { enabled: true } } },
    { name: 'POST .../clone is flag.create of the clone', method: 'POST', path: `${P}/checkout/clone`, body: { name: 'c2', replaceGroupId: true },
      want: { action: 'flag.create', flagKey: 'c2', environment: undefined, environments: [], newState: { name: 'c2', replaceGroupId: true, cloneOf: 'checkout' } } },
    { name: 'PUT .../variants is variants.update in that environment', method: 'PUT', path: `${P}/checkout/environments/production/variants`,
      body: [{ name: 'a', weight: 1000, weightType: 'variable', stickiness: 'default' }],
      want: { action: 'variants.update', environment: 'production', environments: ['production'],
        newState: { variants: [{ name: 'a', weight: 1000, weightType: 'variable', stickiness: 'default' }] } } },
    { name: 'PUT .../variants takes an empty list (clears them)', method: 'PUT', path: `${P}/checkout/environments/production/variants`, body: [],
      want: { action: 'variants.update', newState: { variants: [] } } },
    { name: 'PATCH .../variants is variants.update with the patch', method: 'PATCH', path: `${P}/checkout/environments/development/variants`,
      body: [{ op: 'replace', path: '/0/payload', value: { type: 'string', value: 'x' } }],
      want: { action: 'variants.update', environment: 'development', newState: { patch: [{ op: 'replace', path: '/0/payload', value: { type: 'string', value: 'x' } }] } } },
    { name: 'PUT .../variants-batch names its environments from the body', method: 'PUT', path: `${P}/checkout/variants-batch`,
      body: { variants: [], environments: ['production', 'development'] },
      want: { action: 'variants.update', environment: '*', environments: ['development', 'production'],
        newState: { variants: [], environments: ['development', 'production'] } } },
    { name: 'PUT .../variants-batch in one environment names it', method: 'PUT', path: `${P}/checkout/variants-batch`,
      body: { variants: [], environments: ['production'] }, want: { action: 'variants.update', environment: 'production', environments: ['production'] } },
    { name: 'POST .../strategies/set-sort-order is strategy.reorder', method: 'POST',
      path: `${P}/checkout/environments/production/strategies/set-sort-order`, body: [{ id: 's-1', sortOrder: 2 }, { id: 's-2', sortOrder: 1 }],
      want: { action: 'strategy.reorder', environment: 'production', newState: { order: [{ id: 's-1', sortOrder: 2 }, { id: 's-2', sortOrder: 1 }] } } },
    { name: 'POST .../dependencies is dependency.add in every environment', method: 'POST', path: `${P}/checkout/dependencies`,
      body: { feature: 'parent', enabled: false }, want: { action: 'dependency.add', environment: '*', environments: ['*'],
        newState: { parent: 'parent', enabled: false, variants: [] } } },
    { name: 'POST .../dependencies on a parent that is on, by default, with its variants', method: 'POST', path: `${P}/checkout/dependencies`,
      body: { feature: 'parent', variants: ['blue'] }, want: { action: 'dependency.add', newState: { parent: 'parent', enabled: true, variants: ['blue'] } } },
    { name: 'POST .../dependencies on a disabled parent drops its variants, as Unleash does', method: 'POST', path: `${P}/checkout/dependencies`,
      body: { feature: 'parent', enabled: false, variants: ['blue'] }, want: { action: 'dependency.add', newState: { parent: 'parent', enabled: false, variants: [] } } },
    { name: 'DELETE .../dependencies/:parent is dependency.delete of that parent', method: 'DELETE', path: `${P}/checkout/dependencies/parent`,
      body: undefined, want: { action: 'dependency.delete', environment: '*', newState: { removed: 'parent' } } },
    { name: 'DELETE .../dependencies removes every parent', method: 'DELETE', path: `${P}/checkout/dependencies`,
      body: undefined, want: { action: 'dependency.delete', newState: { removed: '*' } } },
    { name: 'POST .../lifecycle/complete is flag.complete', method: 'POST', path: `${P}/checkout/lifecycle/complete`, body: { status: 'kept' },
      want: { action: 'flag.complete', environments: [], newState: { completed: true, status: 'kept' } } },
    { name: 'POST .../lifecycle/uncomplete is flag.uncomplete', method: 'POST', path: `${P}/checkout/lifecycle/uncomplete`, body: undefined,
      want: { action: 'flag.uncomplete', environments: [], newState: { completed: false } } },
    { name: 'POST .../link is link.create', method: 'POST', path: `${P}/checkout/link`, body: { url: 'https://x.test/a' },
      want: { action: 'link.create', environments: [], newState: { url: 'https://x.test/a', title: null } } },
    { name: 'PUT .../link/:id is link.update', method: 'PUT', path: `${P}/checkout/link/L1`, body: { url: 'https://x.test/b', title: 't' },
      want: { action: 'link.update', newState: { id: 'L1', url: 'https://x.test/b', title: 't' } } },
    // As Unleash stores them: the URL normalized, an update's missing title kept (so not recorded).
    { name: 'a link URL Unleash normalizes', method: 'POST', path: `${P}/checkout/link`, body: { url: 'HTTP://user:pw@www.Example.COM/a/../b/?z=1&utm_source=x&a=2#frag', title: 'T' },
      want: { action: 'link.create', newState: { url: 'http://example.com/b?a=2&z=1#frag', title: 'T' } } },
    { name: 'a bare host as a link', method: 'POST', path: `${P}/checkout/link`, body: { url: 'evil.example.org' },
      want: { action: 'link.create', newState: { url: 'https://evil.example.org', title: null } } },
    { name: 'a link update without a title', method: 'PUT', path: `${P}/checkout/link/L1`, body: { url: 'https://x.test/b' },
      want: { action: 'link.update', newState: { id: 'L1', url: 'https://x.test/b' } } },
    { name: 'DELETE .../link/:id is link.delete', method: 'DELETE', path: `${P}/checkout/link/L1`, body: undefined,
      want: { action: 'link.delete', newState: { id: 'L1', deleted: true } } },
    { name: 'POST features/:f/tags is tag.add, without a project', method: 'POST', path: '/api/admin/features/checkout/tags',
      body: { type: 'simple', value: 'xx' }, want: { action: 'tag.add', project: undefined, environments: [],
        newState: { added: [{ type: 'simple', value: 'xx' }], removed: [] } } },
    // Unleash adds each tag once, then removes.
    { name: 'a tag update as Unleash applies it', method: 'PUT', path: '/api/admin/features/checkout/tags',
      body: { addedTags: [{ type: 'simple', value: 'aa' }, { type: 'simple', value: 'aa' }, { type: 'simple', value: 'bb' }], removedTags: [{ type: 'simple', value: 'cc' }, { type: 'simple', value: 'cc' }] },
      want: { action: 'tag.update', project: undefined, newState: { added: [{ type: 'simple', value: 'aa' }, { type: 'simple', value: 'bb' }], removed: [{ type: 'simple', value: 'cc' }] } } },
    { name: 'PUT features/:f/tags is tag.update', method: 'PUT', path: '/api/admin/features/checkout/tags',
      body: { addedTags: [{ type: 'simple', value: 'xx' }], removedTags: [] }, want: { action: 'tag.update', project: undefined,
        newState: { added: [{ type: 'simple', value: 'xx' }], removed: [] } } },
    { name: 'DELETE features/:f/tags/:type/:value is tag.delete', method: 'DELETE', path: '/api/admin/features/checkout/tags/simple/x%20y',
      body: undefined, want: { action: 'tag.delete', project: undefined, newState: { added: [], removed: [{ type: 'simple', value: 'x y' }] } } },
    { name: 'a one-flag stale batch is flag.stale of that flag', method: 'POST', path: '/api/admin/projects/default/stale',
      body: { features: ['checkout'], stale: true }, want: { action: 'flag.stale', flagKey: 'checkout', environments: [], newState: { stale: true, flags: ['checkout'] } } },
    { name: 'a one-flag bulk enable is flag.enable of that flag', method: 'POST', path: '/api/admin/projects/default/bulk_features/environments/production/on',
      body: { features: ['checkout'] }, want: { action: 'flag.enable', flagKey: 'checkout', environment: 'production', newState: { enabled: true, flags: ['checkout'] } } },
    { name: 'a one-flag bulk disable is flag.disable of that flag', method: 'POST', path: '/api/admin/projects/default/bulk_features/environments/production/off',
      body: { features: ['checkout'] }, want: { action: 'flag.disable', flagKey: 'checkout', environment: 'production', newState: { enabled: false, flags: ['checkout'] } } },
    { name: 'a one-flag batch archive is flag.archive', method: 'POST', path: '/api/admin/projects/default/archive',
      body: { features: ['checkout'] }, want: { action: 'flag.archive', flagKey: 'checkout', environment: '*', newState: { archived: true, dependencies: [], flags: ['checkout'] } } },
    { name: 'a one-flag batch revive is flag.revive', method: 'POST', path: '/api/admin/projects/default/revive',
      body: { features: ['checkout'] }, want: { action: 'flag.revive', flagKey: 'checkout', newState: { archived: false, enabled: false, flags: ['checkout'] } } },
    { name: 'a one-flag batch delete is flag.delete', method: 'POST', path: '/api/admin/projects/default/delete',
      body: { features: ['checkout'] }, want: { action: 'flag.delete', flagKey: 'checkout', newState: { deleted: true, flags: ['checkout'] } } },
    { name: 'a bulk enable is one decision over every flag it names, sorted', method: 'POST',
      path: '/api/admin/projects/default/bulk_features/environments/production/on', body: { features: ['search', 'checkout'] },
      want: { action: 'flag.enable', flagKey: 'checkout,search', environment: 'production', environments: ['production'],
        flags: [{ flagKey: 'checkout', project: 'default', environments: ['production'] }, { flagKey: 'search', project: 'default', environments: ['production'] }],
        newState: { enabled: true, flags: ['checkout', 'search'] } } },
    { name: 'a batch archive alters every environment of every flag', method: 'POST', path: '/api/admin/projects/default/archive',
      body: { features: ['b', 'a'] }, want: { action: 'flag.archive', flagKey: 'a,b', environment: '*',
        flags: [{ flagKey: 'a', project: 'default', environments: ['*'] }, { flagKey: 'b', project: 'default', environments: ['*'] }] } },
    { name: 'a new segment reaches no strategy', method: 'POST', path: '/api/admin/segments', body: { name: 'beta', constraints: [] },
      want: { action: 'segment.create', flagKey: 'segment:beta', project: undefined, environments: [], flags: [], newState: { name: 'beta', description: null, constraints: [], project: null } } },
    // Unleash's store writes what it knows (the caller is the creator), its validator fills in constraint values.
    { name: 'a new segment as Unleash stores it', method: 'POST', path: '/api/admin/segments', body: { name: 'beta', project: '', createdBy: 'someone', constraints: [{ contextName: 'appName', operator: 'NUM_EQ', value: '5' }] },
      want: { action: 'segment.create', project: undefined, newState: { name: 'beta', description: null, constraints: [{ contextName: 'appName', operator: 'NUM_EQ', value: '5', values: [] }], project: null } } },
    { name: 'a segment update: its reach is read from Unleash', method: 'PUT', path: '/api/admin/segments/7', body: { name: 'beta', constraints: [] },
      want: { action: 'segment.update', flagKey: 'segment:7', project: undefined, environments: [], flags: [], environment: undefined } },
    { name: 'a segment delete', method: 'DELETE', path: '/api/admin/segments/7', body: undefined,
      want: { action: 'segment.delete', flagKey: 'segment:7', project: undefined, newState: { deleted: true } } },
    { name: 'a new context field', method: 'POST', path: '/api/admin/context', body: { name: 'region' },
      want: { action: 'context.create', flagKey: 'context:region', project: undefined, flags: [] } },
    { name: 'a context field update names the field from the path', method: 'PUT', path: '/api/admin/context/region', body: { name: 'other', stickiness: true },
      want: { action: 'context.update', flagKey: 'context:region', project: undefined, newState: { name: 'region', legalValues: [], stickiness: true, sortOrder: 0 } } },
    // Unleash's update drops sortOrder (stored as 0) and stores missing stickiness and legal values as false and none.
    { name: 'a context field update records what Unleash stores', method: 'PUT', path: '/api/admin/context/region', body: { name: 'region', description: 'd', sortOrder: 3, legalValues: [{ value: 'eu' }] },
      want: { action: 'context.update', flagKey: 'context:region', project: undefined, newState: { name: 'region', description: 'd', legalValues: [{ value: 'eu' }], stickiness: false, sortOrder: 0 } } },
    { name: 'a context field delete', method: 'DELETE', path: '/api/admin/context/region', body: undefined,
      want: { action: 'context.delete', flagKey: 'context:region', project: undefined } },
    { name: 'a legal value added', method: 'POST', path: '/api/admin/context/region/legal-values', body: { value: 'eu' },
      want: { action: 'context.update', flagKey: 'context:region', project: undefined, newState: { legalValue: { value: 'eu' } } } },
    { name: 'a legal value removed', method: 'DELETE', path: '/api/admin/context/region/legal-values/eu', body: undefined,
      want: { action: 'context.update', flagKey: 'context:region', project: undefined, newState: { removedLegalValue: 'eu' } } },
    { name: 'a project context field', method: 'POST', path: '/api/admin/projects/default/context', body: { name: 'tenant' },
      want: { action: 'context.create', flagKey: 'context:tenant' } },
    // Unleash takes the path's project over the body's.
    { name: 'a project context field whose body names another project', method: 'POST', path: '/api/admin/projects/default/context', body: { name: 'tenant', project: 'other' },
      want: { action: 'context.create', flagKey: 'context:tenant', newState: { name: 'tenant', description: null, legalValues: [], stickiness: false, sortOrder: 0, project: 'default' } } },
    // Unleash's store fills in what a create leaves out, and writes none of the rest.
    { name: 'a new context field as Unleash stores it', method: 'POST', path: '/api/admin/context', body: { name: 'tenant', foo: 1, sortOrder: 4 },
      want: { action: 'context.create', project: undefined, newState: { name: 'tenant', description: null, legalValues: [], stickiness: false, sortOrder: 4 } } },
    { name: 'a project context field update', method: 'PUT', path: '/api/admin/projects/default/context/tenant', body: { description: 'x' },
      want: { action: 'context.update', flagKey: 'context:tenant' } },
    { name: 'a project context field delete', method: 'DELETE', path: '/api/admin/projects/default/context/tenant', body: undefined,
      want: { action: 'context.delete', flagKey: 'context:tenant' } },
    { name: 'a project legal value added', method: 'POST', path: '/api/admin/projects/default/context/tenant/legal-values', body: { value: 'a' },
      want: { action: 'context.update', flagKey: 'context:tenant' } },
    { name: 'a project legal value removed', method: 'DELETE', path: '/api/admin/projects/default/context/tenant/legal-values/a', body: undefined,
      want: { action: 'context.update', flagKey: 'context:tenant', newState: { removedLegalValue: 'a' } } },
    { name: 'an import is one decision over every flag it names, in its environment', method: 'POST', path: '/api/admin/features-batch/import',
      body: { project: 'default', environment: 'development', data: { features: [{ name: 'b' }, { name: 'a' }], featureStrategies: [], tagTypes: [] } },
      want: { action: 'flag.import', flagKey: 'a,b', environment: 'development', environments: ['development'],
        flags: [{ flagKey: 'a', project: 'default', environments: ['development'] }, { flagKey: 'b', project: 'default', environments: ['development'] }] } },
];

describe('classifyUnleash', () => {
  it.each(writeCases)('$name', ({ method, path, body, headers, want, target }) => {
    const req = request(method, path, body, headers);
    const got = classifyUnleash(req);
    expect(got.kind).toBe('write');
    if (got.kind !== 'write') return;
    // Key by key, so an expected `undefined` (no project on archive routes) is checked too.
    const expected: Record<string, unknown> = { platform: 'unleash', project: 'default', ...want };
    for (const [key, value] of Object.entries(expected)) {
      expect(got.change[key as keyof typeof got.change], key).toEqual(value);
    }
    // The entry describes exactly the request that is forwarded, rebuilt by flaggate.
    expect(got.forward.target).toBe(target ?? path);
    expect(got.change.request).toEqual({ method: method.toUpperCase(), path: got.forward.target, bodySha256: got.forward.bodySha256 });
    const bodyless = body === undefined || JSON.stringify(body) === '{}';
    expect(got.forward.body).toEqual(bodyless ? Buffer.alloc(0) : req.body);
    expect(got.forward.contentType).toBe(bodyless ? null : 'application/json');
  });

  it('has a case for every route in the table', () => {
    const routed = writeCases.map((c) => matchWrite(c.method.toUpperCase(), splitPath(new URL(c.path, 'http://x').pathname))?.route);
    for (const r of writeRoutes) expect(routed, `${r.method} ${r.pattern}`).toContain(r);
  });

  it.each([
    { name: 'a feature', method: 'GET', path: `${P}/checkout`, want: { project: 'default', flagKey: 'checkout' } },
    { name: 'an environment', method: 'GET', path: `${P}/checkout/environments/production?x=1`,
      want: { project: 'default', flagKey: 'checkout', environment: 'production' } },
    { name: 'a project list (HEAD)', method: 'HEAD', path: P, want: { project: 'default' } },
    { name: 'anything else under /api/', method: 'GET', path: '/api/client/features', want: {} },
  ])('classifies GET and HEAD of $name as a read', ({ method, path, want }) => {
    expect(classifyUnleash(request(method, path))).toMatchObject({
      kind: 'read',
      read: { platform: 'unleash', action: 'flag.read', ...want },
      forward: { method, target: path, contentType: null, body: Buffer.alloc(0) },
    });
  });

  it.each([
    { name: 'segments set by strategy id', method: 'POST', path: '/api/admin/segments/strategies', body: { strategyId: 'x', segmentIds: [1] } },
    { name: 'a tag type', method: 'POST', path: '/api/admin/tag-types', body: { name: 'team' } },
    { name: 'an API token', method: 'POST', path: '/api/admin/api-tokens', body: { type: 'admin' } },
    { name: 'a PUT on the feature list', method: 'PUT', path: P, body: {} },
    { name: 'an OPTIONS request', method: 'OPTIONS', path: P, body: undefined },
  ])('classifies $name as an unrecognized write', ({ method, path, body }) => {
    expect(classifyUnleash(request(method, path, body))).toMatchObject({ kind: 'unrecognized', method, path });
  });

  it.each([
    { name: 'a flag name', path: '/api/admin/features/validate', body: { name: 'x' }, want: {} },
    { name: 'a batch archive', path: '/api/admin/projects/default/archive/validate', body: { features: ['a', 'b'] }, want: { project: 'default' } },
    { name: 'a constraint', path: '/api/admin/constraints/validate', body: { contextName: 'userId', operator: 'IN', values: ['a'] }, want: {} },
    { name: 'an import', path: '/api/admin/features-batch/validate', body: { project: 'default', environment: 'production', data: {} }, want: {} },
  ])('classifies POST validate of $name as a read, forwarding its body', ({ path, body, want }) => {
    const req = request('POST', path, body);
    expect(classifyUnleash(req)).toMatchObject({
      kind: 'read',
      read: { platform: 'unleash', action: 'flag.read', ...want },
      forward: { method: 'POST', target: path, contentType: 'application/json', body: req.body },
    });
  });

  it('refuses a query on a validate operation', () => {
    expect(() => classifyUnleash(request('POST', '/api/admin/features/validate?x=1', { name: 'x' }))).toThrow(
      expect.objectContaining({ code: 'ADAPT_QUERY_REFUSED' }),
    );
  });

  // Unleash's validator coerces a body to its schema's types first: null or "false" would be a dependency on the parent being off.
  it.each([{ enabled: null }, { enabled: 'false' }, { enabled: 0 }, { enabled: 'true' }, { variants: null }, { variants: 'blue' }, { variants: [1] }])(
    'refuses a dependency.add whose types Unleash would coerce: %j',
    (fields) => {
      expect(() => classifyUnleash(request('POST', `${P}/checkout/dependencies`, { feature: 'parent', ...fields }))).toThrow(
        expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED' }),
      );
    },
  );

  it('says why an operation is refused by design', () => {
    const got = classifyUnleash(request('POST', '/api/admin/tag-types', { name: 'team' }));
    expect(got).toMatchObject({ kind: 'unrecognized', reason: expect.stringMatching(/^createTagType is refused by design: .*tag/) });
  });

  it.each<{ name: string; body: unknown; headers: Record<string, string>; code: string; message?: RegExp }>([
    { name: 'the body is not JSON', body: '{"name": ', headers: {}, code: 'ADAPT_BODY_MALFORMED', message: /not JSON: .+/ },
    { name: 'the body is empty', body: Buffer.alloc(0), headers: {}, code: 'ADAPT_BODY_MALFORMED' },
    { name: 'the body is a JSON array', body: [{ name: 'x' }], headers: {}, code: 'ADAPT_BODY_MALFORMED' },
    { name: 'the body is not UTF-8', body: Buffer.from([0x7b, 0xff, 0x7d]), headers: {}, code: 'ADAPT_BODY_MALFORMED' },
    { name: 'the body has no name', body: { type: 'release' }, headers: {}, code: 'ADAPT_BODY_MALFORMED' },
    { name: 'the name has a control character', body: { name: 'a\u0000b' }, headers: {}, code: 'ADAPT_BODY_MALFORMED' },
    { name: 'the name is ..', body: { name: '..' }, headers: {}, code: 'ADAPT_BODY_MALFORMED' },
    { name: 'the body nests too deep', body: JSON.stringify({ name: 'x', d: JSON.parse('['.repeat(40) + ']'.repeat(40)) }),
      headers: {}, code: 'ADAPT_BODY_MALFORMED' },
    { name: 'the content type is text/plain', body: { name: 'x' }, headers: { 'content-type': 'text/plain' }, code: 'ADAPT_MEDIA_TYPE_UNSUPPORTED' },
    { name: 'the content type is missing', body: { name: 'x' }, headers: { 'content-type': '' }, code: 'ADAPT_MEDIA_TYPE_UNSUPPORTED' },
    { name: 'the content type is a +json variant', body: { name: 'x' }, headers: { 'content-type': 'application/json-patch+json' },
      code: 'ADAPT_MEDIA_TYPE_UNSUPPORTED' },
    { name: 'the charset is not UTF-8', body: { name: 'x' }, headers: { 'content-type': 'application/json; charset=utf-16le' },
      code: 'ADAPT_MEDIA_TYPE_UNSUPPORTED' },
    { name: 'the body is gzip-encoded', body: { name: 'x' }, headers: { 'content-encoding': 'gzip' }, code: 'ADAPT_MEDIA_TYPE_UNSUPPORTED' },
  ])('rejects a flag.create when $name', ({ body, headers, code, message }) => {
    const req = request('POST', P, body, headers);
    expect(() => classifyUnleash(req)).toThrow(expect.objectContaining({ code, ...(message ? { message: expect.stringMatching(message) } : {}) }));
  });

  it.each([
    { name: 'a PATCH body is an object', method: 'PATCH', path: `${P}/checkout`, body: { description: 'd' } },
    // Unleash's update writes `archived` (a string "true" too): archiving past the archive route's checks.
    { name: 'a PUT archives the flag', method: 'PUT', path: `${P}/checkout`, body: { type: 'release', archived: true } },
    { name: 'a PUT archives the flag with a string', method: 'PUT', path: `${P}/checkout`, body: { type: 'release', archived: 'true' } },
    { name: 'a PATCH replaces /archived', method: 'PATCH', path: `${P}/checkout`, body: [{ op: 'replace', path: '/archived', value: true }] },
    { name: 'a PATCH moves onto /archived', method: 'PATCH', path: `${P}/checkout`, body: [{ op: 'move', from: '/stale', path: '/archived' }] },
    { name: 'a PATCH replaces the whole document', method: 'PATCH', path: `${P}/checkout`, body: [{ op: 'replace', path: '', value: { archived: true } }] },
    { name: 'a PATCH operation is unknown', method: 'PATCH', path: `${P}/checkout`, body: [{ op: 'merge', path: '/x' }] },
    { name: 'a PATCH is empty', method: 'PATCH', path: `${P}/checkout`, body: [] },
    { name: 'strategy parameters are not an object', method: 'POST', path: `${P}/checkout/environments/production/strategies`,
      body: { name: 'default', parameters: 'x' } },
    { name: 'strategy constraints are not an array', method: 'POST', path: `${P}/checkout/environments/production/strategies`,
      body: { name: 'default', constraints: {} } },
    { name: 'the rollout is not a number', method: 'PUT', path: `${P}/checkout/environments/production/strategies/s-1`,
      body: { name: 'flexibleRollout', parameters: { rollout: 'half' } } },
    // Unleash stores these as sent: the Node SDK reads 50, 50, 0.5; Yggdrasil reads 0% for each.
    ...['0x32', ' 50', '5e-1', '050', '101', '-1', '50.5', ''].map((rollout) => ({ name: `the rollout is ${JSON.stringify(rollout)}`, method: 'POST',
      path: `${P}/checkout/environments/production/strategies`, body: { name: 'flexibleRollout', parameters: { rollout } } })),
    { name: 'a strategy PATCH writes the rollout as "5e-1"', method: 'PATCH', path: `${P}/checkout/environments/production/strategies/s-1`,
      body: [{ op: 'replace', path: '/parameters/rollout', value: '5e-1' }] },
    { name: 'a strategy PATCH replaces the parameters with a rollout of "0x32"', method: 'PATCH', path: `${P}/checkout/environments/production/strategies/s-1`,
      body: [{ op: 'replace', path: '/parameters', value: { rollout: '0x32', stickiness: 'default' } }] },
    { name: 'a strategy PATCH copies a parameter onto the rollout', method: 'PATCH', path: `${P}/checkout/environments/production/strategies/s-1`,
      body: [{ op: 'copy', from: '/parameters/groupId', path: '/parameters/rollout' }] },
    { name: 'a strategy PATCH replaces the whole strategy', method: 'PATCH', path: `${P}/checkout/environments/production/strategies/s-1`,
      body: [{ op: 'replace', path: '', value: { name: 'flexibleRollout', parameters: { rollout: '0x32' } } }] },
    { name: 'a bulk toggle names a flag that is not text', method: 'POST', path: '/api/admin/projects/default/bulk_features/environments/production/on',
      body: { features: ['a', 3] } },
    { name: 'a batch names no list', method: 'POST', path: '/api/admin/projects/default/revive', body: { features: 'a' } },
    { name: 'a new segment has no name', method: 'POST', path: '/api/admin/segments', body: { constraints: [] } },
    { name: 'a new context field has no name', method: 'POST', path: '/api/admin/context', body: { description: 'x' } },
    { name: 'a batch archive names no flag', method: 'POST', path: '/api/admin/projects/default/archive', body: { features: [] } },
    { name: 'a batch delete names a flag with a slash', method: 'POST', path: '/api/admin/projects/default/delete', body: { features: ['a/b'] } },
    { name: 'a stale batch has no stale flag', method: 'POST', path: '/api/admin/projects/default/stale', body: { features: ['a'] } },
    { name: 'a variants body is an object', method: 'PUT', path: `${P}/checkout/environments/production/variants`, body: { variants: [] } },
    { name: 'a variants body holds a non-object', method: 'PUT', path: `${P}/checkout/environments/production/variants`, body: ['a'] },
    { name: 'a variants batch names no environment', method: 'PUT', path: `${P}/checkout/variants-batch`, body: { variants: [], environments: [] } },
    // Unleash writes each: the second upsert of one fails after its events were stored.
    { name: 'a variants batch names an environment twice', method: 'PUT', path: `${P}/checkout/variants-batch`,
      body: { variants: [], environments: ['production', 'development', 'production'] } },
    { name: 'a variants batch names an environment with a slash', method: 'PUT', path: `${P}/checkout/variants-batch`,
      body: { variants: [], environments: ['a/b'] } },
    { name: 'a sort order has a string sortOrder', method: 'POST', path: `${P}/checkout/environments/production/strategies/set-sort-order`,
      body: [{ id: 's', sortOrder: '1' }] },
    { name: 'a dependency names no parent', method: 'POST', path: `${P}/checkout/dependencies`, body: { enabled: true } },
    { name: 'a link has no url', method: 'POST', path: `${P}/checkout/link`, body: { title: 't' } },
    { name: 'a tag update has no removedTags list', method: 'PUT', path: '/api/admin/features/checkout/tags', body: { addedTags: [] } },
    // Unleash would put the tag into the catalogue, then take it off the flag.
    { name: 'a tag update adds and removes one tag', method: 'PUT', path: '/api/admin/features/checkout/tags',
      body: { addedTags: [{ type: 'simple', value: 'b' }], removedTags: [{ type: 'simple', value: 'b' }] } },
    { name: 'a validate body is an array', method: 'POST', path: '/api/admin/features/validate', body: [{ name: 'x' }] },
  ])('rejects a write when $name', ({ method, path, body }) => {
    expect(() => classifyUnleash(request(method, path, body))).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED' }));
  });

  it.each([
    { name: 'the path is outside /api/', method: 'GET', path: '/health' },
    { name: 'the path only starts like /api', method: 'POST', path: '/apix/admin/projects/default/features' },
    { name: 'the path is the root', method: 'GET', path: '/' },
    { name: 'a segment is empty', method: 'DELETE', path: `${P}//checkout` },
    { name: 'a parameter hides an encoded slash', method: 'DELETE', path: `${P}/a%2Fb` },
    { name: 'a parameter hides an encoded backslash', method: 'DELETE', path: `${P}/a%5Cb` },
    { name: 'a parameter hides a NUL', method: 'DELETE', path: `${P}/a%00b` },
    { name: 'a parameter hides a newline', method: 'GET', path: `${P}/a%0Ab` },
    { name: 'the percent-encoding is broken', method: 'DELETE', path: `${P}/a%zzb` },
    { name: 'the percent-encoding is a lone surrogate', method: 'DELETE', path: `${P}/%ED%A0%80` },
  ])('rejects a request when $name', ({ method, path }) => {
    expect(() => classifyUnleash(request(method, path))).toThrow(expect.objectContaining({ code: 'ADAPT_ROUTE_UNKNOWN' }));
  });

  it.each([
    { name: 'the target is absolute-form', method: 'GET', path: 'http://unleash/api/admin/projects' },
    { name: 'a fragment follows the flag', method: 'DELETE', path: `${P}/payments.instant-payouts#/environments/staging/strategies/s1` },
    { name: 'a fragment hides in the query', method: 'POST', path: `${P}/x/environments/production/on?a=false#&a=true` },
    { name: 'a backslash', method: 'DELETE', path: `${P}/a\\b` },
    { name: 'a raw space', method: 'DELETE', path: `${P}/a b` },
    { name: 'a raw non-ASCII character', method: 'DELETE', path: `${P}/caf\u00e9` },
    { name: 'a segment is ..', method: 'POST', path: '/api/admin/projects/default/features/x/../../../archive/revive/y' },
    { name: 'a segment is an encoded ..', method: 'POST', path: `${P}/%2e%2e/environments/production/on` },
    { name: 'a segment is .', method: 'DELETE', path: `${P}/./checkout` },
  ])('refuses the target when $name', ({ method, path }) => {
    expect(() => classifyUnleash(request(method, path))).toThrow(expect.objectContaining({ code: 'ADAPT_TARGET_REFUSED' }));
  });

  it.each([
    { name: 'a parameter the route does not take', path: `${P}/checkout?force=true`, method: 'DELETE' },
    { name: 'a duplicated parameter', path: `${P}/x/environments/production/on?shouldActivateDisabledStrategies=false&shouldActivateDisabledStrategies=true`, method: 'POST' },
    { name: 'an empty piece', path: `${P}/x/environments/production/on?shouldActivateDisabledStrategies=true&`, method: 'POST' },
    { name: 'a bracketed key', path: `${P}/x/environments/production/on?shouldActivateDisabledStrategies[]=true`, method: 'POST' },
    { name: 'a broken escape', path: `${P}/x/environments/production/on?shouldActivateDisabledStrategies=%zz`, method: 'POST' },
    { name: 'a duplicated read parameter', path: `${P}?archived=false&archived=true`, method: 'GET' },
  ])('refuses the query when it has $name', ({ method, path }) => {
    expect(() => classifyUnleash(request(method, path))).toThrow(expect.objectContaining({ code: 'ADAPT_QUERY_REFUSED' }));
  });

  it.each([
    { name: 'a duplicated charset (utf-7 last, as body-parser reads it)', type: 'application/json; charset=utf-8; charset=utf-7' },
    { name: 'a duplicated charset (utf-8 last)', type: 'application/json; charset=utf-7; charset=utf-8' },
    { name: 'a duplicated identical charset', type: 'application/json; charset=utf-8; charset=utf-8' },
    { name: 'a charset with a quoted trick', type: 'application/json; charset="utf-8; charset=utf-7"' },
    { name: 'another parameter', type: 'application/json; boundary=x' },
    { name: 'a malformed header', type: 'application/json;;charset=utf-8' },
  ])('refuses a JSON write whose media type has $name, with 415', ({ type }) => {
    const req = request('PUT', `${P}/checkout`, { description: 'd' }, { 'content-type': type });
    expect(() => classifyUnleash(req)).toThrow(expect.objectContaining({ code: 'ADAPT_MEDIA_TYPE_UNSUPPORTED', status: 415 }));
  });

  it.each([
    { name: 'a key appears twice', body: '{"name":"safe","name":"payments.evil"}' },
    { name: 'an escaped key repeats a plain one', body: '{"name":"safe","\\u006eame":"payments.evil"}' },
    { name: 'a number overflows to Infinity', body: '{"name":"x","description":1e999}' },
    { name: 'a key is __proto__', body: '{"name":"x","description":"d","__proto__":{"type":"kill-switch"}}' },
    // Rounded to ...992 here; a Python or Go reader keeps ...993.
    { name: 'an integer is past 2^53', body: '{"name":"x","impressionData":false,"description":9007199254740993}' },
    { name: 'a negative integer is past -2^53', body: '{"name":"x","description":-9007199254740992}' },
    { name: 'a string holds a lone surrogate', body: '{"name":"x","description":"\\ud800"}' },
    { name: 'a body starts with a byte-order mark', body: '\ufeff{"name":"x"}' },
    { name: 'a body-less route gets a body', body: '{"enabled":false}', path: `${P}/x/environments/production/on` },
  ])('refuses a body where $name', ({ body, path }) => {
    const req = request('POST', path ?? P, body);
    expect(() => classifyUnleash(req)).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED' }));
  });

  it('keeps the JSON parser message as the reason for a malformed body', () => {
    try {
      classifyUnleash(request('POST', P, '{"name": "x",}'));
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ code: 'ADAPT_BODY_MALFORMED' });
      expect((err as Error).cause).toBeInstanceOf(SyntaxError);
    }
  });

  it('takes integers a double holds exactly, and numbers written with a fraction or an exponent', () => {
    for (const n of ['9007199254740991', '-9007199254740991', '1e21', '12345678901234567890.5']) {
      // sortOrder: a number in Unleash's schema (a description, a string there, would be coerced and refused).
      expect(classifyUnleash(request('POST', `${P}/checkout/environments/production/strategies`, `{"name":"default","sortOrder":${n}}`)).kind, n).toBe('write');
    }
  });

  it('ignores a top-level rollout that is not derived from the parameters', () => {
    const got = classifyUnleash(request('POST', `${P}/checkout/environments/production/strategies`, { name: 'default', rollout: 0 }));
    expect(got.kind === 'write' && got.change.newState).toEqual({ name: 'default', parameters: {}, constraints: [], variants: [], segments: [] });
  });
});

describe('docs/unleash.md', () => {
  it('lists every classified route and every refused operation', async () => {
    const { readFileSync } = await import('node:fs');
    const { refusedOperations } = await import('../../../src/platforms/unleash/refused.js');
    const { readRoutes } = await import('../../../src/platforms/unleash/routes.js');
    const doc = readFileSync(new URL('../../../docs/unleash.md', import.meta.url), 'utf8');
    for (const r of writeRoutes) expect(doc).toContain(`| ${r.method} | \`${r.pattern}\` | \`${r.action}\``);
    for (const r of readRoutes) expect(doc).toContain(`| POST | \`${r.pattern}\` |`);
    for (const r of refusedOperations) expect(doc).toContain(`| ${r.method} | \`${r.path}\` | \`${r.operation}\` |`);
  });
});

describe('classifyUnleash records what Unleash stores', () => {
  const newState = (method: string, path: string, body: unknown) => {
    const got = classifyUnleash(request(method, path, body));
    if (got.kind !== 'write') throw new TypeError('not a write');
    return got.change.newState as Record<string, unknown>;
  };
  const ENV_VARIANTS = `${P}/checkout/environments/production/variants`;
  const v = (name: string, weight: number, weightType = 'variable') => ({ name, weight, weightType, stickiness: 'default' });

  it('records variable weights as Unleash shares them out, sorted by name', () => {
    expect(newState('PUT', ENV_VARIANTS, [v('treatment', 100), v('control', 900)]).variants).toEqual([v('control', 500), v('treatment', 500)]);
    // Three variable variants: the remainder goes to the first ones; fixed weights are kept.
    expect(newState('PUT', ENV_VARIANTS, [v('c', 1), v('b', 1), v('a', 1), v('z', 100, 'fix')]).variants).toEqual([v('a', 300), v('b', 300), v('c', 300), v('z', 100, 'fix')]);
    expect(newState('PUT', ENV_VARIANTS, [v('x', 0), v('y', 0), v('w', 0)]).variants).toEqual([v('w', 333), v('x', 334), v('y', 333)]);
    // A list Unleash refuses is recorded as sent.
    expect(newState('PUT', ENV_VARIANTS, [v('a', 1000, 'fix')]).variants).toEqual([v('a', 1000, 'fix')]);
  });

  it('fills in what variants-batch fills in before sharing the weights', () => {
    const got = newState('PUT', `${P}/checkout/variants-batch`, { environments: ['production'], variants: [{ name: 'b', weight: 900 }, { name: 'a', weight: 100 }] });
    expect(got.variants).toEqual([v('a', 500), v('b', 500)]);
  });

  it("records a strategy's variants as stored, and an update without segments keeps them", () => {
    const strategy = `${P}/checkout/environments/production/strategies`;
    const body = { name: 'flexibleRollout', parameters: { rollout: '50', stickiness: 'default' }, variants: [v('on', 100), v('off', 900)] };
    expect(newState('POST', strategy, body).variants).toEqual([v('off', 500), v('on', 500)]);
    const updated = newState('PUT', `${strategy}/s-1`, { name: 'default' });
    expect(updated).not.toHaveProperty('segments');
    expect(updated.variants).toEqual([]);
  });

  it('records the activation of disabled strategies a switch-on of several flags asks for, as one flag\'s does', () => {
    const bulk = newState('POST', '/api/admin/projects/default/bulk_features/environments/production/on?shouldActivateDisabledStrategies=true', { features: ['checkout'] });
    expect(bulk).toMatchObject({ enabled: true, query: { shouldActivateDisabledStrategies: 'true' } });
  });

  it("records no title for a link update that sends none: Unleash keeps the link's own", () => {
    expect(newState('PUT', `${P}/checkout/link/L1`, { url: 'https://x.test/b' })).not.toHaveProperty('title');
    expect(newState('PUT', `${P}/checkout/link/L1`, { url: 'https://x.test/b', title: null })).toHaveProperty('title', null);
  });

  it('records a sort order a strategy is created with, and none an update sends (Unleash does not write it)', () => {
    const strategy = `${P}/checkout/environments/production/strategies`;
    const body = { name: 'flexibleRollout', parameters: { rollout: '50', stickiness: 'default', groupId: 'g' }, sortOrder: -5 };
    expect(newState('POST', strategy, body).sortOrder).toBe(-5);
    expect(newState('PUT', `${strategy}/s-1`, body)).not.toHaveProperty('sortOrder');
  });

  it.each([
    ['absent', { rollout: '50' }],
    ['empty', { rollout: '50', stickiness: '' }],
    ['null (read as empty)', { rollout: '50', stickiness: null }],
  ])("leaves a flexible rollout's stickiness that is %s to the state read: Unleash takes the project's default", (name, parameters) => {
    const strategy = `${P}/checkout/environments/production/strategies`;
    for (const [method, path] of [['POST', strategy], ['PUT', `${strategy}/s-1`]] as const) {
      // null is converted by Unleash's request check, and refused before that.
      if (name.startsWith('null')) expect(() => classifyUnleash(request(method, path, { name: 'flexibleRollout', parameters }))).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED' }));
      else expect(newState(method, path, { name: 'flexibleRollout', parameters }).parameters, method).toEqual({ ...parameters, groupId: 'checkout' });
    }
    expect(newState('POST', strategy, { name: 'userWithId', parameters: { userIds: 'a' } }).parameters).toEqual({ userIds: 'a' });
  });

  it('refuses a create whose stale is not a boolean: Unleash converts "false", which its create schema does not declare', () => {
    for (const stale of ['false', 'TRUE', 0, null]) {
      expect(() => classifyUnleash(request('POST', P, { name: 'checkout', stale })), JSON.stringify(stale)).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED' }));
    }
  });

  it("refuses a strategy update without a name: Unleash keeps the strategy's own and fills in none of its kind's parameters", () => {
    const strategy = `${P}/checkout/environments/production/strategies/s-1`;
    for (const body of [{ parameters: { rollout: '50' } }, { constraints: [] }, { name: '', parameters: {} }, { name: null, parameters: {} }]) {
      expect(() => classifyUnleash(request('PUT', strategy, body)), JSON.stringify(body)).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED', details: { field: expect.stringMatching(/name$/) } }));
    }
  });

  it('records only the members of a strategy Unleash acts on', () => {
    const strategy = `${P}/checkout/environments/production/strategies`;
    const body = { name: 'default', id: 'my-own-id', featureName: 'other', segmentIds: [1], parameters: {}, title: 't' };
    for (const [method, path] of [['POST', strategy], ['PUT', `${strategy}/s-1`]] as const) {
      const got = newState(method, path, body);
      expect(Object.keys(got).filter((k) => ['featureName', 'segmentIds'].includes(k)), method).toEqual([]);
      expect(got.id, method).toBe(method === 'PUT' ? 's-1' : undefined);
      expect(got.title, method).toBe('t');
    }
  });

  it.each([['/project', 'other'], ['/createdAt', '2001-01-01T00:00:00.000Z'], ['/enabled', true], ['/variants', []], ['/name', 'checkout'], ['/tags', []]])(
    'refuses a flag patch of %s, which Unleash stores nothing of',
    (path, value) => {
      expect(() => classifyUnleash(request('PATCH', `${P}/checkout`, [{ op: 'replace', path, value }]))).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED' }));
      expect(classifyUnleash(request('PATCH', `${P}/checkout`, [{ op: 'test', path, value }, { op: 'replace', path: '/description', value: 'd' }])).kind).toBe('write');
    },
  );

  it.each(['01', '+1', '0', '1e0', '2147483648', ' 1'])('refuses segment id %j, which PostgreSQL reads as another spelling of an integer (or none)', (id) => {
    for (const method of ['PUT', 'DELETE']) {
      const body = method === 'PUT' ? { name: 's', constraints: [] } : undefined;
      expect(() => classifyUnleash(request(method, `/api/admin/segments/${encodeURIComponent(id)}`, body))).toThrow(expect.objectContaining({ code: expect.stringMatching(/^ADAPT_(TARGET_REFUSED|ROUTE_UNKNOWN)$/) }));
    }
  });

  it('names a segment by the id Unleash reads', () => {
    const c = classifyUnleash(request('PUT', '/api/admin/segments/2147483647', { name: 's', constraints: [] }));
    expect(c.kind === 'write' && c.change.flagKey).toBe('segment:2147483647');
  });

  it('resets what a feature PUT leaves out, as Unleash does', () => {
    expect(newState('PUT', `${P}/checkout`, { description: '' })).toEqual({ name: 'checkout', description: null, type: 'release', stale: false, impressionData: false });
    expect(newState('PUT', `${P}/checkout`, { type: 'kill-switch', stale: true, impressionData: true, description: 'd' })).toEqual({ name: 'checkout', type: 'kill-switch', stale: true, impressionData: true, description: 'd' });
  });

  it.each([
    ['variants, which Unleash writes into every environment', { name: 'new.flag', variants: [v('a', 1000)] }, 'variants'],
    ['archived', { name: 'new.flag', archived: true }, 'archived'],
    ['a creator, whom Unleash would record over the caller', { name: 'new.flag', createdByUserId: 1 }, 'createdByUserId'],
    ['a creator of null', { name: 'new.flag', createdByUserId: null }, 'createdByUserId'],
  ])('refuses a create carrying %s', (_name, body, field) => {
    expect(() => classifyUnleash(request('POST', P, body))).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED', details: { field } }));
  });

  it('refuses a batch naming a flag twice: Unleash applies each entry, a switch-on adding the default strategy twice', () => {
    for (const path of ['/api/admin/projects/default/bulk_features/environments/production/on', '/api/admin/projects/default/archive', '/api/admin/projects/default/revive']) {
      expect(() => classifyUnleash(request('POST', path, { features: ['a', 'b', 'a'] })), path).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED', details: { field: 'features' } }));
    }
  });

  it('refuses a new sort order naming a strategy twice: Unleash writes the last', () => {
    const path = `${P}/checkout/environments/production/strategies/set-sort-order`;
    expect(() => classifyUnleash(request('POST', path, [{ id: 'a', sortOrder: 7 }, { id: 'b', sortOrder: 3 }, { id: 'a', sortOrder: 1 }]))).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED' }));
    expect(newState('POST', path, [{ id: 'a', sortOrder: 7 }, { id: 'b', sortOrder: 3 }])).toEqual({ order: [{ id: 'a', sortOrder: 7 }, { id: 'b', sortOrder: 3 }] });
  });

  it('records of a clone only what Unleash reads: the name and replaceGroupId', () => {
    const body = { name: 'copy', replaceGroupId: false, type: 'release', impressionData: false, description: 'a fresh flag', enabled: true, strategies: [] };
    expect(newState('POST', `${P}/source/clone`, body)).toEqual({ name: 'copy', replaceGroupId: false, cloneOf: 'source' });
    expect(newState('POST', `${P}/source/clone`, { name: 'copy' })).toEqual({ name: 'copy', cloneOf: 'source' });
  });

  it("records a create's creation time as Unleash stores it, and refuses one Joi reads as milliseconds", () => {
    expect(newState('POST', P, { name: 'dated', createdAt: '2020-01-02T03:04:05.678901+02:00' }).createdAt).toBe('2020-01-02T01:04:05.678Z');
    expect(newState('POST', P, { name: 'dated', createdAt: '' })).not.toHaveProperty('createdAt');
    expect(newState('POST', P, { name: 'dated', createdAt: '2020-01-02' }).createdAt).toBe('2020-01-02T00:00:00.000Z');
    // Without an offset, each side reads the time in its own time zone.
    for (const createdAt of [0, '1', ' 42 ', '-5', 'not a date', true, '2020-01-02T03:04:05', '2020-01-02 03:04:05Z', 'Jan 2 2020 03:04:05']) {
      expect(() => classifyUnleash(request('POST', P, { name: 'dated', createdAt })), JSON.stringify(createdAt)).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED', details: { field: 'createdAt' } }));
    }
  });

  it('refuses a link written with members besides its url and title: Unleash writes them into the link (an id renames it)', () => {
    for (const [method, path] of [['POST', `${P}/checkout/link`], ['PUT', `${P}/checkout/link/L1`]] as const) {
      expect(() => classifyUnleash(request(method, path, { url: 'https://a.example', title: 't', id: 'HIJACKED' })), method).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED', details: { field: 'id' } }));
      expect(() => classifyUnleash(request(method, path, { url: 'https://a.example', title: 't' })), method).not.toThrow();
    }
  });

  it('refuses a tag value Unleash counts outside 2 to 50 UTF-16 units (an emoji is two)', () => {
    const emoji = '\u{1F600}'.repeat(26);
    for (const value of [emoji, 'x', 'y'.repeat(51)]) {
      expect(() => classifyUnleash(request('POST', '/api/admin/features/checkout/tags', { type: 'simple', value })), value).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED' }));
      expect(() => classifyUnleash(request('PUT', '/api/admin/features/checkout/tags', { addedTags: [{ type: 'simple', value: 'ok' }, { type: 'simple', value }], removedTags: [] })), value).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED' }));
    }
    expect(() => classifyUnleash(request('POST', '/api/admin/features/checkout/tags', { type: 'simple', value: '\u{1F600}'.repeat(25) }))).not.toThrow();
  });

  it("refuses a segment created with an id PostgreSQL would read as another, and a strategy naming a segment twice", () => {
    for (const id of ['00534', ' 534', 534.5, 0, 2_147_483_648]) {
      expect(() => classifyUnleash(request('POST', '/api/admin/segments', { id, name: 's', constraints: [] })), JSON.stringify(id)).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED', details: { field: 'id' } }));
    }
    expect(newState('POST', '/api/admin/segments', { id: 534, name: 's', constraints: [] }).id).toBe(534);
    const strategy = `${P}/checkout/environments/production/strategies`;
    for (const [method, path] of [['POST', strategy], ['PUT', `${strategy}/s-1`]] as const) {
      expect(() => classifyUnleash(request(method, path, { name: 'default', parameters: {}, segments: [2, 2] })), method).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED', details: { field: 'segments' } }));
    }
  });

  it('marks a tag add or update exclusive on the platform: the tag catalogue it may add to is shared', () => {
    const exclusiveOf = (method: string, path: string, body?: unknown) => {
      const c = classifyUnleash(request(method, path, body));
      return c.kind === 'write' ? c.change.exclusive : 'not a write';
    };
    expect(exclusiveOf('POST', '/api/admin/features/checkout/tags', { type: 'simple', value: 'aa' })).toBe(true);
    expect(exclusiveOf('PUT', '/api/admin/features/checkout/tags', { addedTags: [], removedTags: [] })).toBe(true);
    expect(exclusiveOf('DELETE', '/api/admin/features/checkout/tags/simple/aa')).toBeUndefined();
    expect(exclusiveOf('POST', `${P}/checkout/environments/production/on`)).toBeUndefined();
  });

  it('records a segment saved without a project as global', () => {
    expect(newState('PUT', '/api/admin/segments/7', { name: 's', constraints: [] }).project).toBeNull();
    expect(newState('PUT', '/api/admin/segments/7', { name: 's', constraints: [], project: 'default' }).project).toBe('default');
  });
});

describe('classifyUnleash reads a JSON Patch as Unleash applies it', () => {
  const refused = (method: string, path: string, body: unknown) => () => classifyUnleash(request(method, path, body));
  const malformed = expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED' });
  const FEATURE = `${P}/checkout`;
  const STRATEGY = `${P}/checkout/environments/production/strategies/s-1`;
  const VARIANTS = `${P}/checkout/environments/production/variants`;

  it.each(['x/archived', 'archived', '/archived~2', '#/archived'])('refuses a path that is not a JSON Pointer (%s): Unleash applies "x/archived" as /archived', (path) => {
    expect(refused('PATCH', FEATURE, [{ op: 'replace', path, value: true }])).toThrow(malformed);
    expect(refused('PATCH', STRATEGY, [{ op: 'copy', from: path, path: '/title' }])).toThrow(malformed);
  });

  it.each([
    ['a string for stale', [{ op: 'replace', path: '/stale', value: 'TRUE' }]],
    ['a string for impression data', [{ op: 'replace', path: '/impressionData', value: 'true' }]],
    ['a removed type (stored as release)', [{ op: 'remove', path: '/type' }]],
    ['a type copied from another member', [{ op: 'copy', from: '/name', path: '/type' }]],
    ['a move out of the type', [{ op: 'move', from: '/type', path: '/description' }]],
    ['a number for the description', [{ op: 'replace', path: '/description', value: 5 }]],
  ])("refuses a feature patch Unleash's validator would convert or reset: %s", (_name, patch) => {
    expect(refused('PATCH', FEATURE, patch)).toThrow(malformed);
  });

  it('records a patched empty description as none, as Unleash stores it (its UI sends "" when the description is cleared)', () => {
    for (const op of ['replace', 'add']) {
      const c = classifyUnleash(request('PATCH', FEATURE, [{ op, path: '/description', value: '' }]));
      expect(c.kind === 'write' && c.change.newState).toEqual({ patch: [{ op, path: '/description', value: null }] });
    }
  });

  it('takes the query parameter Unleash\'s UI sends on a switch-off, and neither forwards nor records it', () => {
    for (const path of [`${P}/checkout/environments/production/off`, '/api/admin/projects/default/bulk_features/environments/production/off']) {
      const body = path.includes('bulk') ? { features: ['checkout'] } : undefined;
      const c = classifyUnleash(request('POST', `${path}?shouldActivateDisabledStrategies=false`, body));
      expect(c.kind === 'write' && c.forward.target, path).toBe(path);
      expect(c.kind === 'write' && c.change.newState, path).not.toHaveProperty('query');
      expect(() => classifyUnleash(request('POST', `${path}?shouldActivateDisabledStrategies=false&shouldActivateDisabledStrategies=true`, body)), path).toThrow(expect.objectContaining({ code: 'ADAPT_QUERY_REFUSED' }));
    }
  });

  it('takes a feature patch in the types Unleash keeps', () => {
    const patch = [{ op: 'replace', path: '/stale', value: true }, { op: 'replace', path: '/type', value: 'kill-switch' }, { op: 'remove', path: '/description' }];
    expect(refused('PATCH', FEATURE, patch)).not.toThrow();
  });

  it.each([
    ['a removed rollout (stored as 100%)', [{ op: 'remove', path: '/parameters/rollout' }]],
    ['removed parameters', [{ op: 'remove', path: '/parameters' }]],
    ['a rollout moved away', [{ op: 'move', from: '/parameters/rollout', path: '/title' }]],
    ['variants reweighted one by one', [{ op: 'replace', path: '/variants/0/weight', value: 100 }]],
    ['a variant renamed one by one (its order is not in the state read)', [{ op: 'replace', path: '/variants/0/name', value: 'z' }]],
    ['a title written as null (Unleash keeps the old one)', [{ op: 'replace', path: '/title', value: null }]],
    ['disabled removed (Unleash keeps it as it was)', [{ op: 'remove', path: '/disabled' }]],
    ['a move out of the title', [{ op: 'move', from: '/title', path: '/parameters/groupId' }]],
    ['a removed stickiness (the project\'s default then)', [{ op: 'remove', path: '/parameters/stickiness' }]],
    ['a removed group (the flag\'s name then)', [{ op: 'remove', path: '/parameters/groupId' }]],
    ['a stickiness copied in', [{ op: 'copy', from: '/title', path: '/parameters/stickiness' }]],
    ['a sort order (an update does not write it)', [{ op: 'replace', path: '/sortOrder', value: -5 }]],
    // A name copied in could make a strategy a flexible rollout the state check does not follow.
    ['a name copied in', [{ op: 'replace', path: '/title', value: 'flexibleRollout' }, { op: 'copy', from: '/title', path: '/name' }]],
    ['a name moved in', [{ op: 'add', path: '/parameters/x', value: 'flexibleRollout' }, { op: 'move', from: '/parameters/x', path: '/name' }]],
    ['a constraint added without values (stored with [])', [{ op: 'add', path: '/constraints/-', value: { contextName: 'userId', operator: 'IN' } }]],
    ['a constraint replaced without values', [{ op: 'replace', path: '/constraints/0', value: { contextName: 'userId', operator: 'NUM_EQ', value: '5' } }]],
    ['constraints written whole, one without values', [{ op: 'replace', path: '/constraints', value: [{ contextName: 'a', operator: 'IN', values: ['x'] }, { contextName: 'b', operator: 'IN' }] }]],
    ['a constraint\'s values removed', [{ op: 'remove', path: '/constraints/0/values' }]],
    ['a constraint\'s values moved away', [{ op: 'move', from: '/constraints/0/values', path: '/title' }]],
    ['a constraint copied in from outside the constraints', [{ op: 'copy', from: '/parameters', path: '/constraints/-' }]],
    ['segments removed (Unleash keeps them)', [{ op: 'remove', path: '/segments' }]],
    ['segments written as null (Unleash keeps them)', [{ op: 'replace', path: '/segments', value: null }]],
    ['a feature name (Unleash ignores it)', [{ op: 'add', path: '/featureName', value: 'other.flag' }]],
    ['an id (Unleash ignores it)', [{ op: 'replace', path: '/id', value: 'x' }]],
    ['a member Unleash does not store', [{ op: 'add', path: '/segmentIds', value: [1] }]],
    ['a segment added one by one (stored once if the strategy has it)', [{ op: 'add', path: '/segments/-', value: 2 }]],
    ['segments written whole, one twice', [{ op: 'replace', path: '/segments', value: [2, 2] }]],
    ['a segment copied out of the list', [{ op: 'copy', from: '/segments/0', path: '/segments/-' }]],
    ['a variable list not as stored', [{ op: 'replace', path: '/variants', value: [{ name: 'b', weight: 100, weightType: 'variable', stickiness: 'default' }, { name: 'a', weight: 900, weightType: 'variable', stickiness: 'default' }] }]],
  ])('refuses a strategy patch Unleash would store otherwise: %s', (_name, patch) => {
    expect(refused('PATCH', STRATEGY, patch)).toThrow(malformed);
  });

  it('takes a strategy patch writing constraints with their values, or copying one constraint onto another', () => {
    const patch = [
      { op: 'add', path: '/constraints/-', value: { contextName: 'userId', operator: 'IN', values: [] } },
      { op: 'replace', path: '/constraints', value: [{ contextName: 'a', operator: 'NUM_EQ', value: '5', values: [] }] },
      { op: 'copy', from: '/constraints/0', path: '/constraints/-' },
      { op: 'replace', path: '/constraints/0/values', value: ['x'] },
    ];
    expect(refused('PATCH', STRATEGY, patch)).not.toThrow();
  });

  it('takes a strategy patch writing the whole variant list as Unleash stores it', () => {
    const stored = [{ name: 'a', weight: 500, weightType: 'variable', stickiness: 'default' }, { name: 'b', weight: 500, weightType: 'variable', stickiness: 'default' }];
    expect(refused('PATCH', STRATEGY, [{ op: 'replace', path: '/variants', value: stored }])).not.toThrow();
  });

  it("takes an environment variants patch that adds, removes, reweighs or renames, as Unleash's UI sends them: the state read records the list that results", () => {
    for (const ops of [[{ op: 'add', path: '/-', value: { name: 'c', weight: 100, weightType: 'variable' } }], [{ op: 'remove', path: '/0' }], [{ op: 'replace', path: '/1/weightType', value: 'fix' }], [{ op: 'replace', path: '/0/name', value: 'renamed' }]]) {
      expect(refused('PATCH', VARIANTS, ops), JSON.stringify(ops)).not.toThrow();
    }
  });

  it('records a strategy PUT sending title or disabled as null as leaving them (Unleash does)', () => {
    const got = classifyUnleash(request('PUT', STRATEGY, { name: 'default', title: null, disabled: null }));
    expect(got.kind === 'write' && got.change.newState).not.toHaveProperty('disabled');
    expect(got.kind === 'write' && got.change.newState).not.toHaveProperty('title');
  });

  it('takes variants-batch without variants as clearing them, as Unleash does', () => {
    const got = classifyUnleash(request('PUT', `${P}/checkout/variants-batch`, { environments: ['production'] }));
    expect(got.kind === 'write' && got.change.newState).toEqual({ variants: [], environments: ['production'] });
  });
});

/**
 * The Unleash 8.2 admin operations that change state and that flaggate refuses by design, each with
 * its reason. Together with the classified routes (./routes.ts) they cover every state-changing
 * `/api/admin/` operation of Unleash's OpenAPI document; test/platforms/unleash/openapi-coverage.test.ts
 * checks that against the real server. `flagRelated` says whether the operation changes what flags
 * serve or describe (as opposed to users, tokens, integrations and the UI).
 */
import { compile, matchIn, type Segment } from './routes.js';

export interface RefusedOperation {
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** As in the OpenAPI document; `{name}` is a parameter. */
  path: string;
  /** The OpenAPI operationId. */
  operation: string;
  flagRelated: boolean;
  reason: string;
}

const STRATEGY_TYPES = 'strategy type definitions are instance administration; a change to one alters every flag using the type';
const TAG_CATALOGUE = 'the tag catalogue is instance administration; deleting a tag or tag type untags every flag carrying it (tag one flag through /api/admin/features/{featureName}/tags)';
const PROJECT_ENVIRONMENTS = 'adding or removing a project environment, or its default strategy, changes every flag of the project';
const INSTANCE_ENVIRONMENTS = 'an environment switched off or reordered changes every flag in it';
const NOT_FLAGS = 'not a flag change: flaggate governs flags only, and its admin token must not administer anything else for its callers';

const refusals: Array<[RefusedOperation['method'], string, string, boolean, string]> = [
  // Flag-related, refused by design.
  ['PUT', '/api/admin/feature-types/{id}/lifetime', 'updateFeatureTypeLifetime', true, 'a flag type lifetime applies to every flag of that type'],
  ['POST', '/api/admin/strategies', 'createStrategy', true, STRATEGY_TYPES],
  ['PUT', '/api/admin/strategies/{name}', 'updateStrategy', true, STRATEGY_TYPES],
  ['DELETE', '/api/admin/strategies/{name}', 'removeStrategy', true, STRATEGY_TYPES],
  ['POST', '/api/admin/strategies/{strategyName}/deprecate', 'deprecateStrategy', true, STRATEGY_TYPES],
  ['POST', '/api/admin/strategies/{strategyName}/reactivate', 'reactivateStrategy', true, STRATEGY_TYPES],
  ['POST', '/api/admin/segments/strategies', 'updateFeatureStrategySegments', true,
    'names a strategy id without its flag or environment; set a strategy\'s segments through PUT/PATCH …/environments/{environment}/strategies/{strategyId}'],
  ['POST', '/api/admin/tags', 'createTag', true, TAG_CATALOGUE],
  ['DELETE', '/api/admin/tags/{type}/{value}', 'deleteTag', true, TAG_CATALOGUE],
  ['POST', '/api/admin/tag-types', 'createTagType', true, TAG_CATALOGUE],
  ['PUT', '/api/admin/tag-types/{name}', 'updateTagType', true, TAG_CATALOGUE],
  ['DELETE', '/api/admin/tag-types/{name}', 'deleteTagType', true, TAG_CATALOGUE],
  ['PUT', '/api/admin/projects/{projectId}/tags', 'addTagToFeatures', true, 'tags several flags in one request; tag each flag through /api/admin/features/{featureName}/tags'],
  ['POST', '/api/admin/projects/{projectId}/environments', 'addEnvironmentToProject', true, PROJECT_ENVIRONMENTS],
  ['DELETE', '/api/admin/projects/{projectId}/environments/{environment}', 'removeEnvironmentFromProject', true, PROJECT_ENVIRONMENTS],
  ['POST', '/api/admin/projects/{projectId}/environments/{environment}/default-strategy', 'addDefaultStrategyToProjectEnvironment', true, PROJECT_ENVIRONMENTS],
  ['PUT', '/api/admin/environments/sort-order', 'updateSortOrder', true, INSTANCE_ENVIRONMENTS],
  ['POST', '/api/admin/environments/{name}/on', 'toggleEnvironmentOn', true, INSTANCE_ENVIRONMENTS],
  ['POST', '/api/admin/environments/{name}/off', 'toggleEnvironmentOff', true, INSTANCE_ENVIRONMENTS],
  ['POST', '/api/admin/maintenance', 'toggleMaintenance', true, 'maintenance mode freezes every flag of the instance'],
  // Not about flags: refused by design.
  ['POST', '/api/admin/metrics/applications/{appName}', 'createApplication', false, NOT_FLAGS],
  ['DELETE', '/api/admin/metrics/applications/{appName}', 'deleteApplication', false, NOT_FLAGS],
  ['POST', '/api/admin/user/change-password', 'changeMyPassword', false, NOT_FLAGS],
  ['POST', '/api/admin/user/tokens', 'createPat', false, NOT_FLAGS],
  ['DELETE', '/api/admin/user/tokens/{id}', 'deletePat', false, NOT_FLAGS],
  ['POST', '/api/admin/ui-config/cors', 'setCors', false, NOT_FLAGS],
  ['POST', '/api/admin/addons', 'createAddon', false, NOT_FLAGS],
  ['PUT', '/api/admin/addons/{id}', 'updateAddon', false, NOT_FLAGS],
  ['DELETE', '/api/admin/addons/{id}', 'deleteAddon', false, NOT_FLAGS],
  ['POST', '/api/admin/api-tokens', 'createApiToken', false, NOT_FLAGS],
  ['PUT', '/api/admin/api-tokens/{token}', 'updateApiToken', false, NOT_FLAGS],
  ['DELETE', '/api/admin/api-tokens/{token}', 'deleteApiToken', false, NOT_FLAGS],
  ['POST', '/api/admin/projects/{projectId}/api-tokens', 'createProjectApiToken', false, NOT_FLAGS],
  ['DELETE', '/api/admin/projects/{projectId}/api-tokens/{token}', 'deleteProjectApiToken', false, NOT_FLAGS],
  // Before `user-admin/{id}`, which would match it too.
  ['DELETE', '/api/admin/user-admin/scim-users', 'deleteScimUsers', false, NOT_FLAGS],
  ['POST', '/api/admin/user-admin/inactive/delete', 'deleteInactiveUsers', false, NOT_FLAGS],
  ['POST', '/api/admin/user-admin/validate-password', 'validateUserPassword', false, NOT_FLAGS],
  ['POST', '/api/admin/user-admin/{id}/change-password', 'changeUserPassword', false, NOT_FLAGS],
  ['POST', '/api/admin/user-admin/reset-password', 'resetUserPassword', false, NOT_FLAGS],
  ['POST', '/api/admin/user-admin', 'createUser', false, NOT_FLAGS],
  ['PUT', '/api/admin/user-admin/{id}', 'updateUser', false, NOT_FLAGS],
  ['DELETE', '/api/admin/user-admin/{id}', 'deleteUser', false, NOT_FLAGS],
  ['POST', '/api/admin/feedback', 'createFeedback', false, NOT_FLAGS],
  ['PUT', '/api/admin/feedback/{id}', 'updateFeedback', false, NOT_FLAGS],
  ['POST', '/api/admin/splash/{id}', 'updateSplashSettings', false, NOT_FLAGS],
  ['POST', '/api/admin/invite-link/tokens', 'createPublicSignupToken', false, NOT_FLAGS],
  ['PUT', '/api/admin/invite-link/tokens/{token}', 'updatePublicSignupToken', false, NOT_FLAGS],
  ['POST', '/api/admin/record-ui-error', 'uiObservability', false, NOT_FLAGS],
  // Favourites are a person's bookmarks in the UI: nothing a flag serves or describes.
  ['POST', '/api/admin/projects/{projectId}/features/{featureName}/favorites', 'addFavoriteFeature', false, NOT_FLAGS],
  ['DELETE', '/api/admin/projects/{projectId}/features/{featureName}/favorites', 'removeFavoriteFeature', false, NOT_FLAGS],
  ['POST', '/api/admin/projects/{projectId}/favorites', 'addFavoriteProject', false, NOT_FLAGS],
  ['DELETE', '/api/admin/projects/{projectId}/favorites', 'removeFavoriteProject', false, NOT_FLAGS],
];

export const refusedOperations: readonly RefusedOperation[] = refusals.map(([method, path, operation, flagRelated, reason]) => ({
  method,
  path,
  operation,
  flagRelated,
  reason,
}));

const compiled = compile(refusedOperations.map((op) => ({ method: op.method, pattern: op.path.replace(/\{([A-Za-z]+)\}/g, ':$1'), op })));

/** The refused operation `method` and `segments` name, if any: its reason goes into the refusal. */
export function refusalFor(method: string, segments: readonly Segment[]): RefusedOperation | undefined {
  return matchIn(compiled, method, segments)?.route.op;
}

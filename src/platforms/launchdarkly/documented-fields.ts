/**
 * Every field name LaunchDarkly's published API description gives (test/fixtures/launchdarkly,
 * openapi.yaml): each schema's properties, and the parameters and example members the flag update
 * operation's description names for semantic patch instructions. LaunchDarkly's reader (Go's
 * encoding/json) takes a key that differs from one of these only in case for that field, so such a
 * key in a struct's place is refused (`classify.ts`). A test derives the list from the document again.
 */
export const DOCUMENTED_FIELDS: readonly string[] = [
  'Action', 'Condition', 'Effect', 'OffVariationValue', 'OnVariationValue', 'Principal', 'Statement', 'Version', '_access', '_accountId',
  '_archivedAt', '_attachedFeatures', '_attachedFlagCount', '_audiences', '_canceledAt', '_clientId', '_clientSecret', '_completedAt',
  '_completedBy', '_completionDate', '_conflicts', '_createdAt', '_creationDate', '_creator', '_debugEventsUntilDate', '_deepLink', '_default',
  '_displayName', '_environmentId', '_environmentName', '_environmentSettings', '_execution', '_external', '_externalLink', '_flags', '_hidden',
  '_id', '_idpSynced', '_importInProgress', '_integrationKey', '_integrationMetadata', '_isLegacy', '_key', '_lastModified', '_lastSeen',
  '_lastSeenMetadata', '_lastTriggeredAt', '_links', '_maintainer', '_maintainerId', '_maintainerTeam', '_member', '_metadata', '_metric', '_name',
  '_ownerId', '_pendingEmail', '_pendingInvite', '_presetBundleVersion', '_presetStatements', '_projectId', '_projectKey', '_publishedAt',
  '_purpose', '_recentTriggerBodies', '_releaseVariationId', '_resourceId', '_ruleIds', '_site', '_startedDate', '_status', '_strict', '_summary',
  '_team', '_timestamp', '_triggerCount', '_unboundedMetadata', '_untracked', '_value', '_verified', '_version', '_versionId', 'accesses',
  'accountId', 'action', 'actionSet', 'actions', 'active', 'activeCount', 'activeExperimentCount', 'activeGuardedRolloutCount', 'activePhaseId',
  'add', 'additionalFormVariables', 'addresses', 'affectedRuleIds', 'after', 'aggregateOf', 'aiConfig', 'aiConfigsExpanded', 'aiConfigsSummary',
  'aliases', 'allReviews', 'allocation', 'allocationPercent', 'allowed', 'allowedValues', 'analysisType', 'anonymous', 'anonymousKinds', 'apiKey',
  'app', 'applicationId', 'applicationKey', 'applicationKeys', 'applicationKind', 'applicationName', 'applicationVersion', 'appliedByMemberId',
  'appliedByServiceTokenId', 'appliedDate', 'appliedOn', 'approvalSettings', 'approvals', 'archived', 'archivedAt', 'archivedDate', 'assignedTo',
  'associatedContexts', 'attribute', 'attributes', 'audienceId', 'audiences', 'auditLogEntryId', 'auditLogEventsHook', 'authKind', 'author',
  'autoAdded', 'autoApplyApprovedChanges', 'available', 'avatar', 'avatarUrl', 'avgDeployDurationMs', 'avgTotalLeadTimeMs', 'avgWaitDurationMs',
  'awsTrustPolicy', 'baseCommitKey', 'baseExperiment', 'basePermissions', 'baseline', 'baselineIdx', 'before', 'beforeRuleId', 'beta',
  'booleanDefaults', 'booleanVariationValue', 'bounds', 'branches', 'bucketBy', 'bucketIntervalMs', 'buckets', 'bypassApprovalsForPendingChanges',
  'canApplyDeclinedChanges', 'canReshuffle', 'canReshuffleTraffic', 'canReviewOwnRequest', 'capabilityConfig', 'case', 'category', 'causingRuleId',
  'checkRatio', 'clause', 'clauseId', 'clauseIds', 'clauses', 'clientId', 'clientSideAvailability', 'code', 'codingDurationMs', 'color', 'comment',
  'commitTime', 'commitUrlTemplate', 'complete', 'completedCount', 'conditions', 'config', 'configValues', 'configuration', 'confirmChanges',
  'conflicts', 'content', 'context', 'contextKey', 'contextKind', 'contextKinds', 'contextTargets', 'continuationToken', 'costPerInputToken',
  'costPerOutputToken', 'count', 'countByIndicator', 'country', 'createTime', 'createdAt', 'createdFrom', 'creationConfig', 'creationDate',
  'creationRatio', 'creationTime', 'critical', 'currentIteration', 'currentVersion', 'custom', 'customParameters', 'customParams',
  'customProperties', 'customRoleIds', 'customRoleKeys', 'customRoles', 'customWorkflowMetadata', 'data', 'dataSource', 'date', 'deepLink',
  'default', 'defaultApiVersion', 'defaultBranch', 'defaultClientSideAvailability', 'defaultReleasePipelineKey', 'defaultTrackEvents', 'defaultTtl',
  'defaultValue', 'defaultVariation', 'defaults', 'deleted', 'deletedAt', 'delta', 'denied', 'dependencies', 'deployDurationMs',
  'deploymentFailureRate', 'deploymentFrequency', 'deploymentMetadata', 'deployments', 'deprecated', 'deprecatedDate', 'description',
  'diffVsLastPeriod', 'disabled', 'display', 'displayKey', 'draftIteration', 'durationMillis', 'durationMs', 'dynamicOptions', 'edges', 'effect',
  'efficiency', 'email', 'enabled', 'enabledPeriods', 'endTime', 'endedAt', 'ending', 'endpoint', 'envId', 'environment', 'environmentId',
  'environmentKey', 'environmentKeys', 'environmentName', 'environments', 'error', 'errorCount', 'errorKind', 'errorMessage', 'errors', 'evaluation',
  'evaluationMetricKey', 'evaluationMetricKeys', 'evaluationsSummary', 'eventDefault', 'eventKey', 'eventMetadata', 'eventTime', 'eventType',
  'excellent', 'excluded', 'excludedActions', 'excludedContexts', 'excludedCount', 'excludedDashboards', 'executeConditionsInSequence', 'executeNow',
  'executionDate', 'experimentAllocation', 'experimentCount', 'experimentKey', 'experimentationCoverage', 'experiments', 'expirationDate',
  'external', 'externalId', 'externalStatus', 'externalUrl', 'failedInstructions', 'failedResources', 'failureCount', 'fair', 'fallthrough',
  'falseDescription', 'falseDisplayName', 'file', 'fileCount', 'filename', 'files', 'filesChanged', 'filter', 'filters', 'first', 'firstName',
  'flag', 'flagConfigVersion', 'flagCount', 'flagHealth', 'flagKey', 'flagName', 'flagPurpose', 'flagReferences', 'flagTagKeys', 'flags',
  'flagsExpanded', 'flagsSummary', 'followers', 'fullKey', 'generateSdkKeys', 'generation', 'generationCount', 'generationErrorCount',
  'generationSuccessCount', 'global', 'goalIds', 'good', 'guardedReleaseConfig', 'guardedRolloutCount', 'handoff', 'head', 'headCommitKey',
  'headerName', 'headers', 'hideInTargeting', 'hint', 'hmacSecretFormVariableKey', 'hmacSignature', 'holdoutAmount', 'holdoutId', 'holdoutamount',
  'href', 'hunkCount', 'hunkUrlTemplate', 'hunks', 'hypothesis', 'icon', 'id', 'impact', 'impactSize', 'inExperiment', 'includeInSnippet',
  'includeInSnippetByDefault', 'included', 'includedActions', 'includedContexts', 'includedCount', 'index', 'indicator', 'indicatorRange',
  'initialPrerequisites', 'initiator', 'inlineRole', 'inputCost', 'inputTokens', 'instruction', 'instructionIndex', 'instructions',
  'integrationConfig', 'integrationId', 'integrationKey', 'integrationMetadata', 'ip', 'isActive', 'isDirty', 'isDismissible', 'isFallthrough',
  'isFlagOn', 'isGroup', 'isIndividuallyTargeted', 'isInverted', 'isLegacy', 'isMember', 'isNumeric', 'isOff', 'isOptional', 'isProjectDefault',
  'isRestricted', 'isRuleTargeted', 'isScim', 'issue', 'items', 'iteration', 'jsonBody', 'judgeAccuracy', 'judgeConfigKey', 'judgeConfiguration',
  'judgeRelevance', 'judgeToxicity', 'judges', 'judgingConfigKeys', 'key', 'keys', 'kind', 'label', 'last', 'lastChecked', 'lastError', 'lastImport',
  'lastModified', 'lastModifiedDate', 'lastName', 'lastPeriod', 'lastPing', 'lastRequested', 'lastSeen', 'lastSuccess', 'lastSync', 'lastUsed',
  'lastUsedInExperiment', 'lastUsedInGuardedRollout', 'latestCommitTime', 'latestVersion', 'layerSnapshot', 'leadTime', 'leadTimeStages', 'limit',
  'lines', 'linesAdded', 'linesDeleted', 'linkedAt', 'linkedFlags', 'linkedResources', 'linkedSegments', 'links', 'mainBranch', 'maintainer',
  'maintainerId', 'maintainerMember', 'maintainerName', 'maintainerTeam', 'maintainerTeamKey', 'maintainers', 'mappings', 'max',
  'maxDeployDurationMs', 'maxTotalLeadTimeMs', 'maxWaitDurationMs', 'member', 'memberIDs', 'memberId', 'members', 'membersCount', 'merge',
  'mergeCommitKey', 'mergeTime', 'message', 'messages', 'meta', 'metadata', 'method', 'metric', 'metricGroupCount', 'metricGroupKeys',
  'metricGroups', 'metricKey', 'metricKeys', 'metrics', 'metricsExpanded', 'metricsSummary', 'mfa', 'migrationSettings', 'milliseconds', 'min',
  'minNumApprovals', 'minSampleSize', 'mobileKey', 'mode', 'model', 'modelConfigKey', 'modifier', 'monitoringWindowMilliseconds', 'name',
  'nameInGroup', 'names', 'namingConvention', 'needsAttention', 'negate', 'next', 'notActions', 'notCalculated', 'notInExperimentVariationId',
  'notResources', 'notifyMemberIds', 'notifyTeamKeys', 'nullRules', 'numberOfContributors', 'numberOfPullRequests', 'oauthProviders', 'offVariation',
  'offVariationValue', 'oldSystemAffected', 'on', 'onVariation', 'onVariationValue', 'op', 'operatingOnId', 'optionsItems', 'optionsPath',
  'otherReservationPercent', 'outboundAddresses', 'outputCost', 'outputTokens', 'overall', 'ownerId', 'parameters', 'params', 'parent', 'parser',
  'password', 'patch', 'path', 'pattern', 'percentage', 'percentileValue', 'period', 'permissionGrants', 'phases', 'placeholder', 'policy',
  'potentiallyStale', 'prefix', 'prerequisiteKey', 'prerequisiteflagkey', 'prerequisites', 'prev', 'previousIterations', 'previousVersion',
  'primary', 'primaryFunnel', 'primaryFunnelKey', 'primaryMetric', 'primarySingleMetric', 'primarySingleMetricKey', 'primarymetrickey', 'private',
  'privateAttrs', 'progressiveReleaseConfig', 'projKey', 'project', 'projectId', 'projectKey', 'projectName', 'projects', 'provider', 'public_key',
  'public_key_pkcs8', 'published', 'pullRequests', 'purpose', 'randomizationUnit', 'randomizationUnits', 'randomizationunit', 'rank',
  'reallocationFrequencyMillis', 'reason', 'redacted', 'redirectUri', 'ref', 'references', 'referencesAdded', 'referencesRemoved',
  'relatedExperiments', 'releaseCount', 'releaseGuardianConfiguration', 'releaseMethod', 'releasePipelineDescription', 'releasePipelineKey',
  'releasePolicyCount', 'releaseStrategy', 'releaseVariationId', 'remove', 'repositoryKey', 'requestorId', 'requireApproval', 'requireComments',
  'required', 'requiredApprovalTags', 'reservationPercent', 'reservations', 'resource', 'resourceApprovalSettings', 'resourceCategory',
  'resourceDetails', 'resourceId', 'resourceKey', 'resourceKind', 'resourceSummary', 'resourceType', 'resources', 'resourcesExpanded',
  'responseBody', 'reviewDurationMs', 'reviewStatus', 'revision', 'rfc3339', 'risk', 'role', 'roleAttributes', 'role_name', 'roles',
  'rollbackOnRegression', 'rollout', 'rolloutBucketBy', 'rolloutContextKind', 'rolloutContextKindKey', 'rolloutWeight', 'rolloutWeights',
  'rootConfigKey', 'ruleClause', 'ruleID', 'ruleId', 'ruleIds', 'ruleIndex', 'rules', 'salt', 'samplingRate', 'satisfactionRating', 'scheduleKind',
  'schema', 'scope', 'scopes', 'score', 'scoreMetadata', 'scores', 'sdk', 'sdkVersions', 'sdks', 'secondary', 'secondaryMetrics', 'seconds',
  'secret', 'secureMode', 'seed', 'segment', 'segmentCount', 'segmentId', 'segmentIdentifiers', 'segmentKey', 'segmentKeys', 'segments',
  'segmentsExpanded', 'segmentsSummary', 'sel', 'selector', 'self', 'series', 'serviceConfig', 'serviceKind', 'serviceKindConfigurationId',
  'serviceToken', 'serviceTokenId', 'setting', 'severity', 'shortDescription', 'sign', 'simple', 'size', 'sizeBytes', 'sort', 'sortValue', 'source',
  'sourceConfig', 'sourceLink', 'stage', 'stageCount', 'stageId', 'stages', 'standard', 'standardRandomizationUnit', 'startDate', 'startTime',
  'started', 'startedAt', 'startingLineNumber', 'state', 'statements', 'status', 'statusCode', 'stopDate', 'subentries', 'subject', 'substring',
  'successCount', 'successCriteria', 'successes', 'successfulInstructions', 'summary', 'supported', 'syncTime', 'tags', 'target', 'targetConfig',
  'targetType', 'targetingRule', 'targetingRuleClauses', 'targetingRuleDescription', 'targets', 'team', 'teamKeys', 'teams', 'teamsCount',
  'templateKey', 'temporary', 'thumbsDown', 'thumbsUp', 'tiers', 'time', 'timeToFirstTokenMs', 'timestamp', 'title', 'titleVerb', 'token', 'tokenId',
  'tokenKind', 'tokenName', 'toolKeys', 'tools', 'total', 'totalCount', 'totalCountWithDifferences', 'totalInstructions', 'totalLeadTimeMs',
  'totalTokens', 'total_count', 'trackEvents', 'trackEventsFallthrough', 'treatments', 'triggerBody', 'triggerURL', 'trueDescription',
  'trueDisplayName', 'type', 'unbounded', 'unboundedContextKind', 'unit', 'unitAggregationType', 'unknown', 'updateSequenceId', 'updatedAt', 'url',
  'urls', 'user', 'userKey', 'usingEnvironmentId', 'usingMobileKey', 'valid', 'validVersions', 'value', 'values', 'variation', 'variationId',
  'variationKey', 'variations', 'velocity', 'version', 'versionName', 'view', 'waitDuration', 'waitDurationMs', 'waitDurationUnit',
  'waitOnApprovals', 'weight', 'winningReason', 'winningTreatmentId', 'workflowId', 'x', 'xAxis', 'y', 'yAxis',
];

/**
 * The names with one spelling for each case fold. The document spells a few names two ways
 * (`ruleId` and `ruleID`, `onVariationValue` and `OnVariationValue`); LaunchDarkly's reader takes
 * either for its one field, but the entry would show the one a policy does not look for. The
 * spelling kept is LaunchDarkly's lower camel case (`ruleId`): first a name with no two capitals
 * in a row and a capital after its first letter, then an all-lowercase one; where two tie, both.
 */
export function oneSpellingEach(names: readonly string[]): string[] {
  const rank = (name: string) => (/^[a-z][a-z0-9]*(?:[A-Z][a-z0-9]+)+$/.test(name) ? 0 : /^[a-z][a-z0-9]*$/.test(name) ? 1 : 2);
  const best = new Map<string, number>();
  for (const name of names) {
    const fold = name.toUpperCase().toLowerCase();
    best.set(fold, Math.min(best.get(fold) ?? 2, rank(name)));
  }
  return names.filter((name) => rank(name) === best.get(name.toUpperCase().toLowerCase()));
}

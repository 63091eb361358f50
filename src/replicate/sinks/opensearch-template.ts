/**
 * The composable index template the OpenSearch/Elasticsearch sink puts before its first delivery,
 * published as docs/opensearch-index-template.json (a test keeps the two equal). `dynamic: false`
 * stores fields a later version adds without indexing them, so an older index never refuses a
 * newer document; `entry` (the whole audit entry, hash included) is stored and returned but not
 * indexed: its states take a different shape per platform and flag.
 */
export function indexTemplate(index: string): Record<string, unknown> {
  const keyword = { type: 'keyword' };
  return {
    index_patterns: [index],
    priority: 200,
    _meta: { description: 'flaggate audit entries, one document per chain_id:seq' },
    template: {
      // Each write fsync'd before the reply: the sink counts a 201 as held.
      settings: { number_of_shards: 1, 'index.translog.durability': 'request' },
      mappings: {
        dynamic: false,
        properties: {
          '@timestamp': { type: 'date' },
          chain_id: keyword,
          seq: { type: 'long' },
          hash: keyword,
          event_id: keyword,
          entry_type: keyword,
          decision_id: keyword,
          change_request_id: keyword,
          actor: { properties: { id: keyword, auth_method: keyword, roles: keyword } },
          action: keyword,
          platform: keyword,
          project: keyword,
          flag_key: keyword,
          environment: keyword,
          reason: { type: 'text' },
          allow: { type: 'boolean' },
          error_code: keyword,
          policy_revision: keyword,
          outcome_status: keyword,
          entry: { type: 'object', enabled: false },
        },
      },
    },
  };
}

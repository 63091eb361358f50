import { randomUUID } from 'node:crypto';
import type { PolicyRevision } from '../policy/index.js';
import type { NewEntry } from './entry.js';

/** Who or what delivered a bundle: a file (its path) or a bundle service (its URL and the ETag it served). */
export type BundleDelivery = { kind: 'file'; path: string } | { kind: 'service'; url: string; etag: string | null };

/** What a `policy.activated` entry says: the bundle now in force, the one before it, its signer and its delivery. */
export interface PolicyActivation {
  bundle: PolicyRevision;
  previous: PolicyRevision | null;
  /** The pinned key that signed it; null when no verification key is configured (development). */
  keyId: string | null;
  delivered: BundleDelivery;
}

function deliveryState(d: BundleDelivery): Record<string, string | null> {
  return d.kind === 'file' ? { kind: 'file', path: d.path } : { kind: 'service', url: d.url, etag: d.etag };
}

/**
 * The entry of a bundle swap: from here on the chain's decisions are made by `bundle`. The decision
 * block names the new bundle and `request.body_sha256` is the tarball's digest, so the archive copy
 * that replay uses is found from the entry itself.
 */
export function policyActivatedEntry(a: PolicyActivation): NewEntry {
  const from = a.delivered.kind === 'file' ? `file ${a.delivered.path}` : `${a.delivered.url}${a.delivered.etag ? ` (ETag ${a.delivered.etag})` : ''}`;
  return {
    entry_type: 'policy.activated',
    decision_id: randomUUID(),
    change_request_id: null,
    actor: { id: 'flaggate', display_name: 'flaggate', auth_method: 'system', roles: [] },
    action: 'policy.activate',
    platform: 'flaggate',
    project: null,
    flag_key: null,
    environment: null,
    previous_state: a.previous ? { revision: a.previous.revision, sha256: a.previous.sha256 } : null,
    new_state: { revision: a.bundle.revision, sha256: a.bundle.sha256, key_id: a.keyId, delivered_by: deliveryState(a.delivered) },
    reason: null,
    approval: { required: false, required_approvals: 0, approver_roles: [], approved_by: [], approved_at: null, approval_proof: null },
    linked_artifacts: { pr: null, build: null, ticket: null },
    decision: {
      allow: true,
      reasons: [`policy bundle ${a.bundle.revision} activated from ${from}`],
      error_code: null,
      policy_revision: a.bundle.revision,
      policy_sha256: a.bundle.sha256,
    },
    request: { method: a.delivered.kind === 'file' ? 'FILE' : 'GET', path: a.delivered.kind === 'file' ? a.delivered.path : a.delivered.url, body_sha256: a.bundle.sha256 },
    outcome: { status: 'applied', platform_status: null, error_code: null, detail: null, response_sha256: null },
  };
}

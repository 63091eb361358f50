import { z } from 'zod';

/**
 * The policy data contract: the input document every decision is made on, as built by
 * `policyInput`. It documents the contract for policy authors (docs/policy-input.schema.json is
 * generated from it, and a test checks that the file, the case fixtures and rebuilt inputs agree);
 * the engine does not check inputs against it on the decision path.
 */
const authMethod = z.enum(['jwt', 'oidc', 'dev-token', 'client-credentials', 'none']);
const text = z.string();

const request = z
  .strictObject({ method: text, path: text.describe('the canonical path and allowlisted query flaggate forwards'), bodySha256: text.describe('SHA-256 (hex) of the body flaggate forwards') })
  .describe('the request as flaggate forwards it, rebuilt from the classification');

const write = z
  .strictObject({
    platform: text.describe("'unleash', 'flagd', 'launchdarkly', 'flagsmith', …"),
    action: text.describe("e.g. flag.enable, flag.disable, flag.create, flag.update, flag.archive, flag.delete, strategy.create, strategy.update, strategy.delete; 'unrecognized' for a write no adapter knew"),
    project: text.optional(),
    flagKey: text,
    environment: text.optional(),
    environments: z.array(text).optional().describe("the environments the change can alter: [] for none, ['*'] for every one; absent: as environment says"),
    flags: z
      .array(z.strictObject({ flagKey: text, project: text.optional(), environments: z.array(text) }))
      .optional()
      .describe('a change over many flags (a bulk toggle, a batch archive, the flags a segment or context field reaches): each flag and the environments it alters'),
    exclusive: z.literal(true).optional().describe("the change alters what its platform's changes share (Unleash's tag catalogue): it runs alone on its platform"),
    previousState: z.unknown().optional().describe("the flag as read from the platform before the change (platform-shaped: tags, strategies, rollout where it has them); null when it does not exist yet"),
    newState: z.unknown().optional().describe('what the request asks for, normalized'),
    request,
  })
  .describe('a flag write');

const read = z
  .strictObject({ platform: text, action: z.literal('flag.read'), project: text.optional(), flagKey: text.optional(), environment: text.optional() })
  .describe('a flag read through the proxy');

const access = z
  .strictObject({ action: text.describe("flaggate's own actions: audit.read, audit.export, change.approve, drift.acknowledge, …"), platform: text.optional(), flagKey: text.optional(), environment: text.optional() })
  .describe("an action on flaggate's control port");

export const policyInputSchema = z
  .strictObject({
    actor: z.strictObject({
      id: text,
      displayName: text,
      authMethod: authMethod.describe('client-credentials marks a service account; none, a token that did not verify'),
      roles: z.array(text).describe("the token's role names, and its group names as group:<name>, mapped through data.flaggate.config.role_mapping by the policy"),
    }),
    change: z.union([write, read, access]),
    approvals: z
      .array(z.strictObject({ approverId: text, roles: z.array(text), approvedAt: text, authMethod: authMethod.nullable() }))
      .describe('approvals recorded for a held change, each by someone other than the requester'),
    context: z.strictObject({
      reason: text.optional().describe('X-Flaggate-Reason, or the token claim identity.reasonClaim'),
      ticket: text.optional().describe('X-Flaggate-Ticket, or the token claim identity.ticketClaim'),
      links: z.strictObject({ pr: text.optional(), build: text.optional() }),
      sources: z.strictObject({ reason: z.enum(['header', 'token']).optional(), ticket: z.enum(['header', 'token']).optional() }).optional().describe('where reason and ticket came from'),
      timeUtc: text.describe('the time the decision is made for, ISO 8601 UTC'),
    }),
  })
  .describe('the input document of data.flaggate.authz.decision');

/** The JSON Schema published in docs/. */
export function policyInputJsonSchema(): Record<string, unknown> {
  return { $id: 'https://flaggate.dev/schema/policy-input.json', title: 'flaggate policy input', ...z.toJSONSchema(policyInputSchema, { unrepresentable: 'any' }) };
}

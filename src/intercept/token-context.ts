/**
 * Reason and ticket from the caller's verified token, for tools that can set only a base URL and a
 * bearer token (OpenTofu/Terraform providers, plain HTTP clients): a pipeline mints a short-lived
 * token carrying them as claims. A header the request sends wins over the claim; the context says
 * which source each value came from, so the policy and the entry can tell them apart.
 */
import { claimAt } from '../identify/index.js';
import { contextText, type ChangeContext } from './change-context.js';

export interface ContextClaims {
  /** Dotted claim paths (`identity.reasonClaim`, `identity.ticketClaim`). */
  reasonClaim: string;
  ticketClaim: string;
}

/** `context` with reason and ticket filled from `claims` where the headers left them unset. */
export function withTokenContext(context: ChangeContext, claims: Record<string, unknown>, paths: ContextClaims): ChangeContext {
  const out: ChangeContext = { ...context, links: { ...context.links }, sources: { ...context.sources } };
  for (const [field, path] of [['reason', paths.reasonClaim], ['ticket', paths.ticketClaim]] as const) {
    if (out[field] !== undefined) continue;
    const value = contextText(claimAt(claims, path), `token claim ${path}`);
    if (value === undefined) continue;
    out[field] = value;
    out.sources![field] = 'token';
  }
  if (Object.keys(out.sources!).length === 0) delete out.sources;
  return out;
}

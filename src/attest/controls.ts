import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { FlaggateError } from '../errors.js';

/** The checks an attestation runs; a control mapping names them. */
export const checkIds = ['approvals_distinct', 'authorized_principal', 'policy_in_force', 'drift_resolved', 'break_glass_reviewed', 'evidence_integrity'] as const;
export type CheckId = (typeof checkIds)[number];

const mappingSchema = z.object({
  format: z.literal('flaggate-control-mapping/1'),
  description: z.string().optional(),
  checks: z.record(z.string(), z.string()),
  controls: z
    .array(
      z.strictObject({
        framework: z.string().min(1).max(128),
        id: z.string().min(1).max(64),
        title: z.string().max(512),
        checks: z.array(z.string()).min(1),
      }),
    )
    .min(1),
});

export type ControlMapping = z.infer<typeof mappingSchema>;
export type Control = ControlMapping['controls'][number];

/** The mapping shipped with flaggate (SOC 2 and ISO/IEC 27001:2022 Annex A). */
export const defaultControlsPath = new URL('../../compliance/controls.json', import.meta.url).pathname;

/**
 * Reads and checks a control mapping (JSON). Throws CONFIG_INVALID when it does not parse, or a
 * control names a check flaggate does not run (a typo would leave a control without evidence).
 */
export function readControlMapping(path: string = defaultControlsPath): ControlMapping {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new FlaggateError('CONFIG_INVALID', `control mapping ${path} cannot be read as JSON`, { cause });
  }
  const parsed = mappingSchema.safeParse(raw);
  if (!parsed.success) throw new FlaggateError('CONFIG_INVALID', `control mapping ${path}: ${z.prettifyError(parsed.error)}`);
  for (const c of parsed.data.controls) {
    const unknown = c.checks.filter((k) => !(checkIds as readonly string[]).includes(k));
    if (unknown.length > 0) throw new FlaggateError('CONFIG_INVALID', `control mapping ${path}: ${c.framework} ${c.id} names unknown checks ${unknown.join(', ')} (known: ${checkIds.join(', ')})`);
  }
  return parsed.data;
}

/** The controls a check gives evidence for, as "framework id" labels. */
export function controlsOf(mapping: ControlMapping, check: CheckId): string[] {
  return mapping.controls.filter((c) => c.checks.includes(check)).map((c) => `${c.framework} ${c.id}`);
}

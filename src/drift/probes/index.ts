import type { PlatformSettings } from '../../platforms/index.js';
import type { DriftProbe } from '../probe.js';
import { createFlagdProbe } from './flagd.js';
import { createUnleashProbe } from './unleash.js';

/**
 * The read-only probe for a configured platform; undefined for a platform without one yet. `id`
 * (the platform's id when several share a sidecar) names it in findings, metrics and its baseline.
 */
export function driftProbeFor(settings: Readonly<PlatformSettings & { id?: string }>): DriftProbe | undefined {
  const probe = probeOf(settings);
  return probe && settings.id !== undefined && settings.id !== probe.platform ? renamed(probe, settings.id) : probe;
}

function renamed(probe: DriftProbe, platform: string): DriftProbe {
  return {
    platform,
    source: probe.source,
    snapshot: (known) => probe.snapshot(known),
    ...(probe.events ? { events: (afterId: number | undefined) => probe.events!(afterId) } : {}),
    ...(probe.self ? { self: () => probe.self!() } : {}),
  };
}

function probeOf(settings: Readonly<PlatformSettings>): DriftProbe | undefined {
  switch (settings.name) {
    case 'flagd':
      return createFlagdProbe({ path: settings.targetUrl! });
    case 'unleash':
      return createUnleashProbe({ baseUrl: settings.targetUrl!, token: settings.targetToken ?? '', timeoutMs: settings.timeoutMs });
    default:
      return undefined;
  }
}

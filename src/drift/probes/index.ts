import type { PlatformSettings } from '../../platforms/index.js';
import type { DriftProbe } from '../probe.js';
import { createFlagdProbe } from './flagd.js';
import { createUnleashProbe } from './unleash.js';

/** The read-only probe for the configured platform; undefined for a platform without one yet. */
export function driftProbeFor(settings: Readonly<PlatformSettings>): DriftProbe | undefined {
  switch (settings.name) {
    case 'flagd':
      return createFlagdProbe({ path: settings.targetUrl! });
    case 'unleash':
      return createUnleashProbe({ baseUrl: settings.targetUrl!, token: settings.targetToken ?? '', timeoutMs: settings.timeoutMs });
    default:
      return undefined;
  }
}

import type { Config } from '../config/schema.js';
import type { PlatformAdapter } from './adapter.js';
import { createFlagdAdapter } from './flagd/index.js';
import { createUnleashAdapter } from './unleash/index.js';

/** The adapter for the configured platform. */
export function createAdapter(platform: Config['platform']): PlatformAdapter {
  switch (platform.name) {
    case 'flagd':
      return createFlagdAdapter({ path: platform.targetUrl!, environment: platform.environment });
    case 'unleash':
      return createUnleashAdapter({ baseUrl: platform.targetUrl!, token: platform.targetToken ?? '', timeoutMs: platform.timeoutMs });
  }
}

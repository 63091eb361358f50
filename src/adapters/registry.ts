import type { Config } from '../config/schema.js';
import type { PlatformAdapter } from './adapter.js';
import { createFlagdAdapter } from './flagd/index.js';

/** The adapter for the configured platform; platform modules load only when chosen. */
export async function createAdapter(platform: Config['platform']): Promise<PlatformAdapter> {
  switch (platform.name) {
    case 'flagd':
      return createFlagdAdapter({ path: platform.targetUrl!, environment: platform.environment });
    case 'unleash': {
      const { createUnleashAdapter } = await import('./unleash/index.js');
      return createUnleashAdapter({ baseUrl: platform.targetUrl!, token: platform.targetToken ?? '', timeoutMs: platform.timeoutMs });
    }
  }
}

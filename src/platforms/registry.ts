import { flagdPlugin } from './flagd/index.js';
import { flagsmithPlugin } from './flagsmith/plugin.js';
import { growthBookPlugin } from './growthbook/plugin.js';
import { launchDarklyPlugin } from './launchdarkly/plugin.js';
import type { PlatformPlugin } from './platform.js';
import { restPlugin } from './rest/plugin.js';
import { unleashPlugin } from './unleash/plugin.js';

/** Every platform flaggate governs; adding one is a folder and a line here. */
export const platformPlugins: readonly PlatformPlugin[] = [flagdPlugin, flagsmithPlugin, growthBookPlugin, launchDarklyPlugin, restPlugin, unleashPlugin];

/** The plug-in named `name`; TypeError when there is none (the configuration schema checks names first). */
export function platformPlugin(name: string): PlatformPlugin {
  const plugin = platformPlugins.find((p) => p.name === name);
  if (!plugin) throw new TypeError(`no platform named ${name}`);
  return plugin;
}

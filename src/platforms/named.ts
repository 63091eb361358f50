import type { Classification, FlagChange, Platform } from './platform.js';

/**
 * A platform under the id the configuration gives it (`platforms[].id`), so two platforms of one
 * plug-in behind one sidecar (two flagd files) are told apart in entries, policy input, locks and
 * held changes. Outward, every change and read carries the id; inward, the plug-in sees its own
 * name, as it always does. With the id equal to the plug-in's name the platform is returned as is.
 */
export function namedPlatform(platform: Platform, id: string): Platform {
  if (id === platform.name) return platform;
  const inward = (change: FlagChange): FlagChange => ({ ...change, platform: platform.name });
  return {
    name: id,
    classify: (req) => outward(platform.classify(req), id),
    readState: (change) => platform.readState(inward(change)),
    settled: (change, current) => platform.settled(inward(change), current),
    forward: (request, change) => platform.forward(request, change && inward(change)),
    ...(platform.reach ? { reach: (change: FlagChange, previousState: unknown) => platform.reach!(inward(change), previousState) } : {}),
  };
}

function outward(classified: Classification, id: string): Classification {
  switch (classified.kind) {
    case 'write':
      return { ...classified, change: { ...classified.change, platform: id } };
    case 'read':
      return { ...classified, read: { ...classified.read, platform: id } };
    default:
      return classified;
  }
}

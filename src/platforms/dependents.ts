/**
 * Flags that depend on a changed flag (prerequisites): whatever changes what a flag serves in an
 * environment changes what they serve there. A plug-in reads them with the flag's state; the change
 * then lists the flag and each dependent with the environments it shares with the change, and the
 * policy judges every one (a critical dependent holds the change). Pure, so a held change
 * re-derived from its stored state reaches what it reached.
 */
import type { FlagChange, FlagTarget } from './platform.js';

/** Every environment, as `FlagChange.environments` writes it. */
const EVERY = '*';

/** A flag that depends on the changed one, and where it does (`['*']`: in every environment). */
export interface Dependent {
  flagKey: string;
  environments: string[];
}

/**
 * The change's flags: the flag in `environments` (the change's, as reached), then each dependent
 * in those it shares with them; undefined when no dependent shares one.
 */
export function withDependents(change: FlagChange, environments: readonly string[], dependents: readonly Dependent[]): FlagTarget[] | undefined {
  const everywhere = environments.includes(EVERY);
  const reached = dependents.flatMap((d): FlagTarget[] => {
    const shared = d.environments.includes(EVERY) ? [...environments] : everywhere ? d.environments : d.environments.filter((e) => environments.includes(e));
    return shared.length > 0 ? [{ flagKey: d.flagKey, ...(change.project === undefined ? {} : { project: change.project }), environments: shared }] : [];
  });
  return reached.length > 0 ? [{ flagKey: change.flagKey, ...(change.project === undefined ? {} : { project: change.project }), environments: [...environments] }, ...reached] : undefined;
}

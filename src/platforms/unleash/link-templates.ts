/**
 * The links a new flag starts with. Unleash's create adds one link per link template of the
 * flag's project (`addLinksFromTemplates`: `{{project}}` and `{{feature}}` filled in, the URL
 * normalized as every link's is), which the create's body does not show; the state read records
 * them as `previous_state.linksFromTemplates`.
 */
import normalizeUrl from 'normalize-url';
import { FlaggateError } from '../../errors.js';
import { isObject } from './body.js';
import { overviewPath } from './project-overview.js';

export interface TemplateLink {
  url: string;
  title: string | null;
}

/** The links Unleash adds to `flagKey` created in `project`, in template order; none when the project has no templates. */
export async function linksFromTemplates(read: (path: string) => Promise<unknown>, project: string, flagKey: string): Promise<TemplateLink[]> {
  const path = overviewPath(project);
  const body = await read(path);
  // A project that is not there gives no links: Unleash refuses the create (404).
  if (body === undefined) return [];
  if (!isObject(body)) throw unavailable(`unexpected project overview from ${path}`);
  const templates = body.linkTemplates ?? [];
  if (!Array.isArray(templates)) throw unavailable(`unexpected linkTemplates in ${path}`);
  return templates.map((t: unknown) => {
    if (!isObject(t) || typeof t.urlTemplate !== 'string' || (t.title !== undefined && t.title !== null && typeof t.title !== 'string')) {
      throw unavailable(`unexpected link template in ${path}`);
    }
    // Names Unleash takes are URL-friendly (no `$`), so its string replacement is a literal one.
    const url = t.urlTemplate.replace(/{{project}}/g, () => project).replace(/{{feature}}/g, () => flagKey);
    return { url: normalized(url, project), title: typeof t.title === 'string' ? t.title : null };
  });
}

function normalized(url: string, project: string): string {
  try {
    return normalizeUrl(url, { defaultProtocol: 'https' });
  } catch {
    // Unleash's create fails on it, inside its transaction: nothing would be created.
    throw new FlaggateError('ADAPT_TARGET_MISMATCH', `a link template of project ${JSON.stringify(project)} gives a URL Unleash cannot normalize: its create would fail`, { details: { project } });
  }
}

function unavailable(message: string): FlaggateError {
  return new FlaggateError('ADAPT_STATE_UNAVAILABLE', message);
}

import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { FlaggateError } from '../errors.js';
import { platformPlugin } from '../platforms/index.js';
import { configSchema, type Config } from './schema.js';
import { readSecret, withSecretFiles } from './secret-files.js';

type Env = Record<string, string | undefined>;

/** Environment variables and the config key each one overrides. */
const envKeys: Array<[string, string[]]> = [
  ['FLAGGATE_MODE', ['mode']],
  ['FLAGGATE_DATA_DIR', ['dataDir']],
  ['FLAGGATE_HOST', ['host']],
  ['FLAGGATE_PROXY_PORT', ['proxyPort']],
  ['FLAGGATE_CONTROL_PORT', ['controlPort']],
  ['FLAGGATE_BODY_LIMIT', ['limits', 'bodyBytes']],
  ['FLAGGATE_PLATFORM', ['platform', 'name']],
  ['FLAGGATE_TARGET_URL', ['platform', 'targetUrl']],
  ['FLAGGATE_TARGET_TOKEN', ['platform', 'targetToken']],
  ['FLAGGATE_ENVIRONMENT', ['platform', 'environment']],
  ['FLAGGATE_POLICY_BUNDLE', ['policy', 'bundle']],
  ['FLAGGATE_ATTEST_SCHEDULE_SECONDS', ['attest', 'scheduleSeconds']],
  ['FLAGGATE_POLICY_VERIFICATION_KEY', ['policy', 'verificationKey']],
  ['FLAGGATE_POLICY_SHADOW', ['policy', 'shadow']],
  ['FLAGGATE_POLICY_SERVICE_URL', ['policy', 'service', 'url']],
  ['FLAGGATE_POLICY_SERVICE_TOKEN', ['policy', 'service', 'credentials', 'bearer', 'token']],
  ['FLAGGATE_POLICY_SERVICE_MIN_DELAY_SECONDS', ['policy', 'service', 'minDelaySeconds']],
  ['FLAGGATE_POLICY_SERVICE_MAX_DELAY_SECONDS', ['policy', 'service', 'maxDelaySeconds']],
  ['FLAGGATE_CHAIN_ID', ['audit', 'chainId']],
  ['FLAGGATE_TIMESTAMP_MODE', ['timestamp', 'mode']],
  ['FLAGGATE_OIDC_ISSUER', ['identity', 'issuer']],
  ['FLAGGATE_OIDC_AUDIENCE', ['identity', 'audience']],
  ['FLAGGATE_OIDC_JWKS_URL', ['identity', 'jwksUrl']],
  ['FLAGGATE_OIDC_ROLES_CLAIM', ['identity', 'rolesClaim']],
  ['FLAGGATE_OIDC_GROUPS_CLAIM', ['identity', 'groupsClaim']],
  ['FLAGGATE_APPROVAL_EXPIRY_SECONDS', ['approvals', 'expirySeconds']],
  ['FLAGGATE_APPROVALS_STORE', ['approvals', 'store']],
  ['FLAGGATE_APPROVALS_HELD_STATUS', ['approvals', 'heldStatus']],
  ['FLAGGATE_APPROVAL_TOKEN_MAX_LIFETIME_SECONDS', ['approvals', 'tokenMaxLifetimeSeconds']],
  ['FLAGGATE_APPROVALS_PEER_CHAINS', ['approvals', 'peerChains']],
  ['FLAGGATE_METRICS_TOKEN', ['metrics', 'bearerToken']],
  ['FLAGGATE_DRIFT_INTERVAL_SECONDS', ['drift', 'intervalSeconds']],
  ['FLAGGATE_BREAK_GLASS_REVIEW_SECONDS', ['breakGlass', 'reviewSeconds']],
  ['FLAGGATE_METRICS_ENVIRONMENTS', ['metrics', 'environments']],
  ['FLAGGATE_ARCHIVE_BUCKET', ['archive', 'bucket']],
  ['FLAGGATE_ARCHIVE_ENDPOINT', ['archive', 'endpoint']],
  ['FLAGGATE_ARCHIVE_REGION', ['archive', 'region']],
  ['FLAGGATE_ARCHIVE_RETENTION_DAYS', ['archive', 'retentionDays']],
  ['FLAGGATE_ARCHIVE_ACCESS_KEY_ID', ['archive', 'accessKeyId']],
  ['FLAGGATE_ARCHIVE_SECRET_ACCESS_KEY', ['archive', 'secretAccessKey']],
];

/**
 * Secrets that may also come from a file, as `<NAME>_FILE` (a mounted Secret), so they never sit in
 * the process environment. Giving both forms is refused: which one wins would be a guess.
 */
const fileBacked = ['FLAGGATE_TARGET_TOKEN', 'FLAGGATE_UPSTREAM_POSTGRES_URL', 'FLAGGATE_METRICS_TOKEN', 'FLAGGATE_POLICY_SERVICE_TOKEN', 'FLAGGATE_ARCHIVE_SECRET_ACCESS_KEY'] as const;

/** The environment with each `<NAME>_FILE` replaced by the file's text (one trailing newline dropped). */
function withFileSecrets(env: Env, cwd: string): Env {
  const out: Env = { ...env };
  for (const name of fileBacked) {
    const file = env[`${name}_FILE`];
    if (file === undefined || file === '') continue;
    if (env[name] !== undefined && env[name] !== '') throw new FlaggateError('CONFIG_INVALID', `give ${name} or ${name}_FILE, not both`);
    out[name] = readSecret(file, `${name}_FILE`, cwd);
  }
  return out;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new FlaggateError('CONFIG_INVALID', `config file ${file}: cannot be read`, { cause });
  }
  let parsed: unknown;
  try {
    parsed = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (cause) {
    throw new FlaggateError('CONFIG_INVALID', `config file ${file}: ${(cause as Error).message}`, { cause });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new FlaggateError('CONFIG_INVALID', `config file ${file}: must hold an object`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Loads the one configuration object: defaults, then the file named by FLAGGATE_CONFIG (YAML or
 * JSON; credentials also as `<key>File`), then FLAGGATE_* variables (secrets also as `<NAME>_FILE`), then `overrides`. Throws CONFIG_INVALID naming the key at fault.
 * Relative paths resolve against `dataDir`, which resolves against the working directory.
 */
export function loadConfig(options: { env?: Env; overrides?: Record<string, unknown>; cwd?: string } = {}): Readonly<Config> {
  const cwd = options.cwd ?? process.cwd();
  const env = withFileSecrets(options.env ?? process.env, cwd);
  const raw: Record<string, unknown> = env.FLAGGATE_CONFIG ? withSecretFiles(readConfigFile(resolve(cwd, env.FLAGGATE_CONFIG)), cwd) : {};
  for (const [name, path] of envKeys) {
    const value = env[name];
    if (value !== undefined && value !== '') setPath(raw, path, value);
  }
  if (env.FLAGGATE_OIDC_JWKS_URL || env.FLAGGATE_OIDC_ISSUER) setPath(raw, ['identity', 'devIssuer'], false);
  for (const [key, value] of Object.entries(options.overrides ?? {})) setPath(raw, key.split('.'), value);
  if (env.FLAGGATE_UPSTREAM_POSTGRES_URL) addPostgresSink(raw, env.FLAGGATE_UPSTREAM_POSTGRES_URL);

  refuseBothPlatformForms(raw);
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const messages = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new FlaggateError('CONFIG_INVALID', `invalid configuration: ${messages.join('; ')}`, { details: { issues: messages } });
  }
  // zod hands out its default objects by reference: copy before resolving paths and freezing.
  const config = structuredClone(result.data);
  config.dataDir = resolve(cwd, config.dataDir);
  const inData = (p: string) => (isAbsolute(p) ? p : resolve(config.dataDir, p));
  config.audit.file = inData(config.audit.file);
  config.audit.keysDir = inData(config.audit.keysDir);
  config.timestamp.trustAnchors = config.timestamp.trustAnchors.map((f) => resolve(cwd, f));
  config.timestamp.untrusted = config.timestamp.untrusted.map((f) => resolve(cwd, f));
  if (config.identity.jwksFile) config.identity.jwksFile = resolve(cwd, config.identity.jwksFile);
  for (const issuer of config.approvals.issuers) if (issuer.jwksFile) issuer.jwksFile = resolve(cwd, issuer.jwksFile);
  // Routing keys kept whatever a plug-in's resolve returns; `platform` stays the first of the list.
  config.platforms = config.platforms.map((p) => ({
    ...platformPlugin(p.name).resolve(p, inData),
    id: p.id,
    ...(p.pathPrefix === undefined ? {} : { pathPrefix: p.pathPrefix }),
    ...(p.proxyPort === undefined ? {} : { proxyPort: p.proxyPort }),
  }));
  config.platform = config.platforms[0]!;
  config.policy.bundle = resolve(cwd, config.policy.bundle ?? defaultBundlePath());
  // A shadow URL is a bundle service (fetched like `policy.service`); anything else is a file.
  if (config.policy.shadow && !/^https?:\/\//i.test(config.policy.shadow)) config.policy.shadow = resolve(cwd, config.policy.shadow);
  config.policy.verificationKey = config.policy.verificationKey?.map((k) => (typeof k === 'string' ? resolve(cwd, k) : { ...k, file: resolve(cwd, k.file) }));
  for (const sink of config.replicate.sinks) if (sink.type === 'jsonl') sink.path = inData(sink.path);
  return deepFreeze(config);
}

/**
 * `platform` (with its FLAGGATE_PLATFORM, FLAGGATE_TARGET_* and FLAGGATE_ENVIRONMENT variables) is
 * the single form; `platforms` the list. Given both, which platform a variable meant is a guess.
 */
function refuseBothPlatformForms(raw: Record<string, unknown>): void {
  if (raw.platforms === undefined || raw.platform === undefined) return;
  throw new FlaggateError(
    'CONFIG_INVALID',
    'invalid configuration: platform: give platform or platforms, not both (FLAGGATE_PLATFORM, FLAGGATE_TARGET_URL, FLAGGATE_TARGET_TOKEN and FLAGGATE_ENVIRONMENT set the single platform)',
    { details: { issues: ['platform: give platform or platforms, not both'] } },
  );
}

/** FLAGGATE_UPSTREAM_POSTGRES_URL: a required PostgreSQL sink beside the configured ones (JSONL by default). */
function addPostgresSink(raw: Record<string, unknown>, url: string): void {
  const replicate = (raw.replicate ?? {}) as Record<string, unknown>;
  const sinks = Array.isArray(replicate.sinks) ? [...(replicate.sinks as unknown[])] : [{ type: 'jsonl' }];
  sinks.push({ type: 'postgres', name: 'postgres', url, required: true });
  setPath(raw, ['replicate', 'sinks'], sinks);
}

/** The committed bundle shipped beside the code (dist/.. or src/..). */
function defaultBundlePath(): string {
  return new URL('../../bundles/flaggate.tar.gz', import.meta.url).pathname;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

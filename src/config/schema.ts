import { z } from 'zod';
import { platformPlugin, platformPlugins } from '../platforms/index.js';

const port = z.coerce.number().int().min(0).max(65535);
const chainId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/);

/** Signature algorithms a bundle key may use: no `none`, no HMAC (a public key is not a secret). */
export const bundleSignatureAlgorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

const verificationKeyEntry = z.strictObject({
  file: z.string().min(1),
  keyId: z.string().min(1).optional(),
  algorithm: z.enum(bundleSignatureAlgorithms).optional(),
  scope: z.string().min(1).optional(),
  /** After this instant the key verifies nothing (a retired signing key). */
  notAfter: z.iso.datetime({ offset: true }).optional(),
});

export const sinkSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('jsonl'),
    name: z.string().min(1).default('jsonl'),
    /** Relative paths resolve against dataDir. */
    path: z.string().min(1).default('audit.jsonl'),
    required: z.boolean().default(true),
  }),
  z.object({
    /** The central PostgreSQL ledger shared by every sidecar (one chain each). */
    type: z.literal('postgres'),
    name: z.string().min(1).default('postgres'),
    url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
    required: z.boolean().default(true),
    /**
     * Create or update the schema on first use, as the schema owner: development only. Otherwise the
     * owner runs `flaggate db migrate` and each sidecar logs in as its own registered writer role.
     */
    migrate: z.boolean().default(false),
  }),
  z.object({
    /** A SIEM: Splunk HEC JSON batches, or a webhook signed with HMAC-SHA256. */
    type: z.literal('http'),
    name: z.string().min(1).default('http'),
    format: z.enum(['splunk_hec', 'webhook']),
    url: z.url(),
    token: z.string().min(1).optional(),
    secret: z.string().min(1).optional(),
    sourcetype: z.string().min(1).default('flaggate:audit'),
    index: z.string().min(1).optional(),
    required: z.boolean().default(false),
    timeoutMs: z.coerce.number().int().positive().default(10_000),
    maxAttempts: z.coerce.number().int().min(1).max(20).default(5),
  }),
]);

export const configSchema = z
  .object({
    /** `production` refuses development defaults (dev issuer). */
    mode: z.enum(['development', 'production']).default('development'),
    dataDir: z.string().min(1).default('./data'),
    host: z.string().min(1).default('127.0.0.1'),
    proxyPort: port.default(8080),
    controlPort: port.default(9090),
    limits: z
      .object({
        bodyBytes: z.coerce.number().int().positive().default(1024 * 1024),
        headerBytes: z.coerce.number().int().positive().default(16 * 1024),
        tokenBytes: z.coerce.number().int().positive().default(8 * 1024),
      })
      .prefault({}),
    platform: z
      .object({
        name: z.enum(platformPlugins.map((p) => p.name) as [string, ...string[]]).default('flagd'),
        /** Base URL of the platform; for flagd, the flag file's path (relative to dataDir). */
        targetUrl: z.string().min(1).optional(),
        /** The platform credential only the sidecar holds. */
        targetToken: z.string().min(1).optional(),
        /** flagd files hold one environment; this names it. */
        environment: z.string().min(1).default('production'),
        timeoutMs: z.coerce.number().int().positive().default(10_000),
      })
      .prefault({}),
    identity: z
      .object({
        /** Trust the development issuer whose key lives in dataDir (refused in production). */
        devIssuer: z.boolean().default(true),
        issuer: z.string().min(1).default('flaggate-dev'),
        audience: z.string().min(1).default('flaggate'),
        jwksUrl: z.url().optional(),
        jwksFile: z.string().min(1).optional(),
        algorithms: z.array(z.string().min(1)).min(1).default(['EdDSA', 'ES256', 'RS256', 'PS256']),
        rolesClaim: z.string().min(1).default('roles'),
        nameClaim: z.string().min(1).default('name'),
        /** Dotted paths of claims giving a change's reason and ticket, for tools that cannot send X-Flaggate-* headers. */
        reasonClaim: z.string().min(1).default('reason'),
        ticketClaim: z.string().min(1).default('ticket'),
        leewaySeconds: z.coerce.number().int().min(0).max(300).default(30),
        /** Dotted path of a groups claim; its names join the roles and map through the policy's role_mapping. */
        groupsClaim: z.string().min(1).optional(),
        /** Dotted path of a claim that, when true, marks a service account (besides the client-credentials shapes). */
        serviceAccountClaim: z.string().min(1).optional(),
        /** Remote JWKS: an unknown kid refetches at most once per cooldown; the set is refetched after cacheMaxAge. */
        jwksCooldownSeconds: z.coerce.number().min(0).max(3600).optional(),
        jwksCacheMaxAgeSeconds: z.coerce.number().positive().max(86_400).optional(),
      })
      .prefault({}),
    approvals: z
      .object({
        /** A held change not applied within this time expires and must be requested again. */
        expirySeconds: z.coerce.number().int().positive().default(24 * 3600),
        /** What a held change answers: 202, or 409 with Retry-After for tools that take any 2xx as applied. */
        heldStatus: z.coerce.number().pipe(z.union([z.literal(202), z.literal(409)])).default(202),
        /** Where change requests live: `local` (the ledger file) or `postgres` (shared by a fleet, in the first postgres sink's database). Unset: postgres when a postgres sink is configured. */
        store: z.enum(['local', 'postgres']).optional(),
        /** Systems whose signed approvals (`X-Flaggate-Approval`) count, each with its own key set. */
        issuers: z
          .array(
            z.strictObject({
              issuer: z.string().min(1),
              audience: z.string().min(1).default('flaggate-approval'),
              jwksUrl: z.url().optional(),
              jwksFile: z.string().min(1).optional(),
              algorithms: z.array(z.string().min(1)).min(1).default(['EdDSA', 'ES256', 'RS256', 'PS256']),
              /** The claim naming the approver the way the identity provider names people (its `sub` by default). */
              subjectClaim: z.string().min(1).default('sub'),
              /** The claim naming the requester whose change the token approves, compared like `subjectClaim`. */
              requesterClaim: z.string().min(1).default('requester'),
            }),
          )
          .default([]),
        /**
         * Chains of other sidecars whose held changes this one may approve and apply, when it fronts
         * the same platform target (replicas of one deployment sharing the PostgreSQL store).
         */
        peerChains: z
          .preprocess((v) => (typeof v === 'string' ? v.split(',').map((c) => c.trim()).filter((c) => c !== '') : v), z.array(chainId))
          .default([]),
        /** Approval tokens may live at most this long from their `iat` (and are refused once that old). */
        tokenMaxLifetimeSeconds: z.coerce.number().int().positive().max(7 * 24 * 3600).default(900),
      })
      .prefault({}),
    /** The web console under `/console/` on the control port. */
    console: z
      .object({
        /** A session unused this long ends; so does any session this old. */
        sessionIdleSeconds: z.coerce.number().int().positive().max(24 * 3600).default(1800),
        sessionMaxSeconds: z.coerce.number().int().positive().max(7 * 24 * 3600).default(8 * 3600),
        /** The console's origin as browsers reach it (behind a TLS proxy: its https URL); the control URL when unset. */
        publicUrl: z.url().optional(),
        /** OpenID Connect sign-in (authorization code + PKCE); without it the development issuer's form signs people in. */
        oidc: z
          .strictObject({
            /** The issuer; its discovery document and JWKS are fetched from it. */
            issuer: z.url(),
            clientId: z.string().min(1),
            clientSecret: z.string().min(1).optional(),
            scopes: z.string().min(1).default('openid profile'),
          })
          .optional(),
      })
      .strict()
      .prefault({}),
    drift: z
      .object({
        /** Seconds between drift checks (the platform against what flaggate last saw); 0 checks only on demand. */
        intervalSeconds: z.coerce.number().int().min(0).max(86_400).default(60),
        /**
         * Clock difference tolerated between flaggate and the platform's event times. A direct change
         * by flaggate's own credential this close to a flaggate change of the same flag and
         * environment passes as that change, so keep it as small as the clocks allow.
         */
        clockSkewSeconds: z.coerce.number().min(0).max(60).default(1),
      })
      .prefault({}),
    breakGlass: z
      .object({
        /** Seconds within which a second person must review a break-glass change (default 24 h); later, the review is overdue. */
        reviewSeconds: z.coerce.number().int().min(60).max(30 * 86_400).default(86_400),
      })
      .prefault({}),
    policy: z
      .object({
        /** The compiled OPA bundle (tar.gz with policy.wasm, data.json and .manifest). */
        bundle: z.string().min(1).optional(),
        /** How often the bundle file is checked for a new version (hot reload). */
        watchIntervalMs: z.coerce.number().int().min(50).max(3_600_000).default(2000),
        /**
         * Keys that sign bundles (`opa build --signing-key`): PEM public key files or JWKS files, or
         * `{ file, keyId, algorithm, scope, notAfter }` entries; several for rotation. When set, in
         * any mode, only bundles that verify load; production mode requires one.
         */
        verificationKey: z
          .preprocess(
            (v) => (typeof v === 'string' ? v.split(',').map((f) => f.trim()).filter((f) => f !== '') : v),
            z.array(z.union([z.string().min(1), verificationKeyEntry])).min(1),
          )
          .optional(),
        /** The key id of a PEM file given by path alone: OPA's default, which `opa build` writes as `kid`. */
        verificationKeyId: z.string().min(1).default('default'),
        /** The `scope` a signature must carry when its key sets none (OPA's `scope`). */
        verificationScope: z.string().min(1).optional(),
        /**
         * A candidate bundle decided beside the active one on every input; only the active decision
         * counts. Disagreements are counted and listed at /v1/policy/shadow. Verified like the active one.
         */
        shadow: z.string().min(1).optional(),
        /** Bundle paths left out of verification (OPA's `exclude_files`, `filepath.Match` patterns); never the files flaggate loads. */
        verificationExclude: z.array(z.string().min(1)).default([]),
      })
      .prefault({}),
    audit: z
      .object({
        /** Names this sidecar's chain; replicas sharing an upstream ledger need distinct ids. */
        chainId: chainId.default('local'),
        file: z.string().min(1).default('ledger.sqlite'),
        /** Signed checkpoints over the head: every N entries and every T seconds (when the head moved). */
        checkpointEveryEntries: z.coerce.number().int().positive().default(100),
        checkpointEverySeconds: z.coerce.number().positive().default(60),
        /** Commit concurrent appends in one transaction (one fsync); each is still durable before its change moves on. */
        groupCommit: z.boolean().default(true),
        /** The checkpoint signing keyring (relative to dataDir). */
        keysDir: z.string().min(1).default('audit-keys'),
        /**
         * Refused writes recorded one by one, per actor (the unauthenticated one too): `perSecond`
         * with bursts of `burst`; beyond that they are counted and summarized in one entry per window.
         */
        refusals: z
          .object({
            perSecond: z.coerce.number().positive().default(5),
            burst: z.coerce.number().int().positive().default(50),
            windowSeconds: z.coerce.number().positive().default(60),
          })
          .prefault({}),
        /** An export package's files (before gzip) may not pass this many bytes: AUDIT_EXPORT_TOO_LARGE. */
        exportMaxBytes: z.coerce.number().int().positive().default(4 * 1024 ** 3),
      })
      .prefault({}),
    timestamp: z
      .object({
        /** `sync`: a change is forwarded only once a token covers its entry. `async`: coverage follows within `asyncBoundSeconds`. */
        mode: z.enum(['sync', 'async']).default('sync'),
        /** With no TSA URLs, the embedded TSA (key and self-issued certificate in dataDir/tsa) signs. */
        tsaUrls: z
          .array(
            z.strictObject({
              url: z.url(),
              bearer: z.string().min(1).optional(),
              basic: z.strictObject({ user: z.string(), pass: z.string() }).optional(),
            }),
          )
          .default([]),
        /** PEM files of the external TSAs' trust anchors (and intermediates). */
        trustAnchors: z.array(z.string().min(1)).default([]),
        untrusted: z.array(z.string().min(1)).default([]),
        policyAllowlist: z.array(z.string().regex(/^\d+(\.\d+)+$/)).optional(),
        timeoutMs: z.coerce.number().int().positive().default(5_000),
        /** When no TSA answers: refuse the change (503), or accept it and raise an alert until covered. */
        onUnavailable: z.enum(['refuse', 'queue']).default('refuse'),
        asyncBoundSeconds: z.coerce.number().positive().default(30),
        /** Concurrent changes share one token over the newest entry; off, every entry gets its own. */
        shareTokens: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    metrics: z
      .object({
        /** When set, `/metrics` answers only `Authorization: Bearer <token>` (the scraper's credential). */
        bearerToken: z.string().min(16, 'use at least 16 characters').optional(),
        /**
         * Environments that get a metric label of their own (besides `platform.environment`); any
         * other name a request carries is labelled `other`, so callers cannot create series at will.
         */
        environments: z
          .preprocess((v) => (typeof v === 'string' ? v.split(',').map((e) => e.trim()).filter((e) => e !== '') : v), z.array(z.string().min(1).max(64)).max(50))
          .default(['production', 'staging', 'development']),
      })
      .strict()
      .prefault({}),
    verify: z
      .object({
        /**
         * How long after an entry's recorded time the first timestamp token over it may be made. A
         * later token means the history was stamped again (rewritten) or coverage lagged past the bound.
         */
        maxTimestampDelaySeconds: z.coerce.number().int().positive().default(3600),
        /** Clock difference allowed between the sidecar and the TSA. */
        clockSkewSeconds: z.coerce.number().int().min(0).max(3600).default(300),
      })
      .strict()
      .prefault({}),
    replicate: z
      .object({
        sinks: z.array(sinkSchema).prefault([{ type: 'jsonl' }]),
        /** A required sink further behind than this refuses changes at once (503) instead of queueing. */
        maxBacklog: z.coerce.number().int().positive().default(10_000),
        /** Entries per delivery while a sink catches up. */
        batchSize: z.coerce.number().int().min(1).max(10_000).default(500),
      })
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.mode === 'production' && c.identity.devIssuer) {
      ctx.addIssue({ code: 'custom', path: ['identity', 'devIssuer'], message: 'the development issuer is refused in production mode' });
    }
    if (!c.identity.devIssuer && !c.identity.jwksUrl && !c.identity.jwksFile) {
      ctx.addIssue({ code: 'custom', path: ['identity', 'jwksUrl'], message: 'set jwksUrl or jwksFile when the development issuer is off' });
    }
    for (const issue of platformPlugin(c.platform.name).check(c.platform)) {
      ctx.addIssue({ code: 'custom', path: ['platform', issue.path], message: issue.message });
    }
    if (c.timestamp.tsaUrls.length > 0 && c.timestamp.trustAnchors.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['timestamp', 'trustAnchors'], message: 'external TSAs need at least one trust anchor PEM file' });
    }
    const sinkNames = new Set<string>();
    c.replicate.sinks.forEach((sink, i) => {
      if (sinkNames.has(sink.name)) ctx.addIssue({ code: 'custom', path: ['replicate', 'sinks', i, 'name'], message: `duplicate sink name "${sink.name}"` });
      sinkNames.add(sink.name);
      if (sink.type === 'postgres' && sink.migrate && c.mode === 'production') {
        ctx.addIssue({ code: 'custom', path: ['replicate', 'sinks', i, 'migrate'], message: 'a sidecar never migrates in production mode: the owner runs `flaggate db migrate`' });
      }
      if (sink.type !== 'http') return;
      if (sink.format === 'splunk_hec' && !sink.token) ctx.addIssue({ code: 'custom', path: ['replicate', 'sinks', i, 'token'], message: 'required for format splunk_hec' });
      if (sink.format === 'webhook' && !sink.secret) ctx.addIssue({ code: 'custom', path: ['replicate', 'sinks', i, 'secret'], message: 'required for format webhook' });
      if (c.mode === 'production' && sink.url.startsWith('http:')) ctx.addIssue({ code: 'custom', path: ['replicate', 'sinks', i, 'url'], message: 'must be https in production mode' });
    });
    if (c.approvals.store === 'postgres' && !c.replicate.sinks.some((s) => s.type === 'postgres')) {
      ctx.addIssue({ code: 'custom', path: ['approvals', 'store'], message: 'postgres needs a postgres sink in replicate.sinks' });
    }
    c.approvals.issuers.forEach((issuer, i) => {
      if (!issuer.jwksUrl === !issuer.jwksFile) ctx.addIssue({ code: 'custom', path: ['approvals', 'issuers', i, 'jwksUrl'], message: 'set exactly one of jwksUrl or jwksFile' });
    });
    if (c.mode === 'production' && c.console.oidc?.issuer.startsWith('http:')) {
      ctx.addIssue({ code: 'custom', path: ['console', 'oidc', 'issuer'], message: 'must be https in production mode' });
    }
    if (c.mode === 'production' && c.identity.jwksUrl?.startsWith('http:')) {
      ctx.addIssue({ code: 'custom', path: ['identity', 'jwksUrl'], message: 'must be https in production mode' });
    }
  });

export type Config = z.infer<typeof configSchema>;
export type SinkConfig = z.infer<typeof sinkSchema>;

import { z } from 'zod';
import { platformPlugin, platformPlugins } from '../platforms/index.js';

/**
 * A number, or a string that writes one in plain decimal digits (as an environment variable gives
 * it). z.coerce.number() reads whatever Number() reads: " " and "" as 0 (a port 0 is a random
 * port), "0x10" as 16, "1e3" as 1000, "Infinity"; an operator who wrote those did not mean them.
 */
function decimal<T extends z.ZodType<number>>(schema: T) {
  return z.preprocess((value) => (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value), schema);
}

const port = decimal(z.number().int().min(0).max(65535));
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
    timeoutMs: decimal(z.number().int().positive()).default(10_000),
    maxAttempts: decimal(z.number().int().min(1).max(20)).default(5),
  }),
  z.object({
    /** A SIEM on Elasticsearch or OpenSearch: `_bulk` create actions, `_id` = chain_id:seq (idempotent). */
    type: z.literal('opensearch'),
    name: z.string().min(1).default('opensearch'),
    url: z.url(),
    index: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,254}$/, 'a lowercase index name').default('flaggate-audit'),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    apiKey: z.string().min(1).optional(),
    /** Put docs/opensearch-index-template.json before the first delivery (needs the manage_index_templates privilege). */
    installTemplate: z.boolean().default(true),
    required: z.boolean().default(false),
    timeoutMs: decimal(z.number().int().positive()).default(10_000),
    maxAttempts: decimal(z.number().int().min(1).max(20)).default(5),
  }),
]);

/** One platform's settings (the `platform` block, and each item of `platforms`). */
const platformSettings = z.object({
    name: z.enum(platformPlugins.map((p) => p.name) as [string, ...string[]]).default('flagd'),
    /** Base URL of the platform; for flagd, the flag file's path (relative to dataDir). */
    targetUrl: z.string().min(1).optional(),
    /** The platform credential only the sidecar holds. */
    targetToken: z.string().min(1).optional(),
    /** flagd files hold one environment; this names it. */
    environment: z.string().min(1).default('production'),
    timeoutMs: decimal(z.number().int().positive()).default(10_000),
    /** Platform `rest`: how the service's routes map to flag changes (checked by that plug-in). */
    rest: z.unknown().optional(),
    /** Platform `flagsmith`: what the deployment sets that decides how it stores a request. */
    flagsmith: z
      .object({
        /** The deployment's FEATURE_VALUE_LIMIT (Flagsmith's default 20,000): a new identity override's longer value is dropped. */
        featureValueLimit: decimal(z.number().int().positive()).default(20_000),
      })
      .strict()
      .optional(),
});

/** Names a platform in entries, policy input and routes; `unrouted` names requests that reach none. */
const platformId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" and "-", starting with a letter or digit')
  .refine((id) => id !== 'unrouted', 'unrouted is reserved for requests that match no platform');

/** Plain segments only: no dot segment, no percent sign, no trailing slash. */
const pathPrefix = z.string().regex(/^(\/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+$/, 'a path such as /flagd: plain segments, none starting with "." and no trailing slash');

/** An item of `platforms`: a platform's settings, its id, and where its clients reach it. */
const routedPlatform = platformSettings
  .extend({
    /** The platform as entries and policies name it; the plug-in name (`name`) when unset. */
    id: platformId.optional(),
    /** Requests under this path on the proxy port are this platform's, with the prefix taken off. */
    pathPrefix: pathPrefix.optional(),
    /** Or: every request on this port of its own is this platform's. */
    proxyPort: port.optional(),
  })
  .strict();

const configObject = z
  .object({
    /** `production` refuses development defaults (dev issuer). */
    mode: z.enum(['development', 'production']).default('development'),
    dataDir: z.string().min(1).default('./data'),
    host: z.string().min(1).default('127.0.0.1'),
    proxyPort: port.default(8080),
    controlPort: port.default(9090),
    limits: z
      .object({
        bodyBytes: decimal(z.number().int().positive()).default(1024 * 1024),
        headerBytes: decimal(z.number().int().positive()).default(16 * 1024),
        tokenBytes: decimal(z.number().int().positive()).default(8 * 1024),
      })
      .prefault({}),
    platform: platformSettings.prefault({}),
    /** Several platforms behind one sidecar (instead of `platform`): one policy, one ledger, one chain. */
    platforms: z.array(routedPlatform).min(1).optional(),
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
        leewaySeconds: decimal(z.number().int().min(0).max(300)).default(30),
        /** A verified token is trusted again without a signature check until its exp, at most this long (0: check every time). */
        verifiedCacheSeconds: decimal(z.number().int().min(0).max(3600)).default(60),
        /** Dotted path of a groups claim; its names join the roles as `group:<name>` and map through the policy's role_mapping. */
        groupsClaim: z.string().min(1).optional(),
        /** Dotted path of a claim that, when true, marks a service account (besides the client-credentials shapes). */
        serviceAccountClaim: z.string().min(1).optional(),
        /** Remote JWKS: an unknown kid refetches at most once per cooldown; the set is refetched after cacheMaxAge. */
        jwksCooldownSeconds: decimal(z.number().min(0).max(3600)).optional(),
        jwksCacheMaxAgeSeconds: decimal(z.number().positive().max(86_400)).optional(),
        /**
         * An ID token is refused as a bearer token, told by `nonce` or a hash claim. Keycloak before 24
         * also puts `nonce` into access tokens: there `nonce` alone does not mark an ID token.
         */
        acceptNonceInAccessTokens: z.boolean().default(false),
      })
      .prefault({}),
    approvals: z
      .object({
        /** A held change not applied within this time expires and must be requested again. */
        expirySeconds: decimal(z.number().int().positive().max(366 * 24 * 3600)).default(24 * 3600),
        /** What a held change answers: 202, or 409 with Retry-After for tools that take any 2xx as applied. */
        heldStatus: decimal(z.number()).pipe(z.union([z.literal(202), z.literal(409)])).default(202),
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
        tokenMaxLifetimeSeconds: decimal(z.number().int().positive().max(7 * 24 * 3600)).default(900),
      })
      .prefault({}),
    /** The web console under `/console/` on the control port. */
    console: z
      .object({
        /** A session unused this long ends; so does any session this old. */
        sessionIdleSeconds: decimal(z.number().int().positive().max(24 * 3600)).default(1800),
        sessionMaxSeconds: decimal(z.number().int().positive().max(7 * 24 * 3600)).default(8 * 3600),
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
        intervalSeconds: decimal(z.number().int().min(0).max(86_400)).default(60),
        /**
         * Clock difference tolerated between flaggate and the platform's event times. A direct change
         * by flaggate's own credential this close to a flaggate change of the same flag and
         * environment passes as that change, so keep it as small as the clocks allow.
         */
        clockSkewSeconds: decimal(z.number().min(0).max(60)).default(1),
      })
      .prefault({}),
    breakGlass: z
      .object({
        /** Seconds within which a second person must review a break-glass change (default 24 h); later, the review is overdue. */
        reviewSeconds: decimal(z.number().int().min(60).max(30 * 86_400)).default(86_400),
      })
      .prefault({}),
    policy: z
      .object({
        /** The compiled OPA bundle (tar.gz with policy.wasm, data.json and .manifest). */
        bundle: z.string().min(1).optional(),
        /** How often the bundle file is checked for a new version (hot reload). */
        watchIntervalMs: decimal(z.number().int().min(50).max(3_600_000)).default(2000),
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
        /**
         * Lets a signed bundle whose files this sidecar had in force and replaced load again (a
         * rollback, refused by default as POLICY_BUNDLE_ROLLBACK): for an operator reverting on
         * purpose, for as long as the revert takes. A revert is better a new revision, signed again.
         */
        allowRollback: z.boolean().default(false),
        /** The key id of a PEM file given by path alone: OPA's default, which `opa build` writes as `kid`. */
        verificationKeyId: z.string().min(1).default('default'),
        /** The `scope` a signature must carry when its key sets none (OPA's `scope`). */
        verificationScope: z.string().min(1).optional(),
        /**
         * A candidate bundle decided beside the active one on every input; only the active decision
         * counts. Disagreements are counted and listed at /v1/policy/shadow. Verified like the active one.
         * A path, or an http(s) URL of a bundle server polled like `service` (its window, and its
         * credentials on the same origin): a candidate served that is refused pauses shadow evaluation.
         */
        shadow: z
          .string()
          .min(1)
          .refine((s) => !/^https?:\/\//i.test(s) || URL.canParse(s), { message: 'not a valid URL' })
          .optional(),
        /** Bundle paths left out of verification (OPA's `exclude_files`, `filepath.Match` patterns); never the files flaggate loads. */
        verificationExclude: z.array(z.string().min(1)).default([]),
        /**
         * A bundle server (OPA's bundle protocol) to fetch the bundle from instead of `bundle`: polled
         * with If-None-Match every min to max seconds; each bundle served is verified before it loads,
         * and the last good one is kept in the data dir so a start with the server down still starts.
         */
        service: z
          .object({
            url: z.url({ protocol: /^https?$/ }),
            credentials: z.object({ bearer: z.object({ token: z.string().min(1), scheme: z.string().min(1).default('Bearer') }).strict() }).strict().optional(),
            minDelaySeconds: decimal(z.number().min(0.05).max(86_400)).default(60),
            maxDelaySeconds: decimal(z.number().min(0.05).max(86_400)).default(120),
            timeoutSeconds: decimal(z.number().positive().max(600)).default(30),
          })
          .strict()
          .refine((s) => s.minDelaySeconds <= s.maxDelaySeconds, { message: 'minDelaySeconds must not exceed maxDelaySeconds', path: ['minDelaySeconds'] })
          .optional(),
      })
      .prefault({}),
    audit: z
      .object({
        /** Names this sidecar's chain; replicas sharing an upstream ledger need distinct ids. */
        chainId: chainId.default('local'),
        file: z.string().min(1).default('ledger.sqlite'),
        /** Signed checkpoints over the head: every N entries and every T seconds (when the head moved). */
        checkpointEveryEntries: decimal(z.number().int().positive()).default(100),
        checkpointEverySeconds: decimal(z.number().positive()).default(60),
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
            perSecond: decimal(z.number().positive()).default(5),
            burst: decimal(z.number().int().positive()).default(50),
            windowSeconds: decimal(z.number().positive()).default(60),
          })
          .prefault({}),
        /** An export package's files (before gzip) may not pass this many bytes: AUDIT_EXPORT_TOO_LARGE. */
        exportMaxBytes: decimal(z.number().int().positive()).default(4 * 1024 ** 3),
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
        timeoutMs: decimal(z.number().int().positive()).default(5_000),
        /** When no TSA answers: refuse the change (503), or accept it and raise an alert until covered. */
        onUnavailable: z.enum(['refuse', 'queue']).default('refuse'),
        asyncBoundSeconds: decimal(z.number().positive()).default(30),
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
        maxTimestampDelaySeconds: decimal(z.number().int().positive()).default(3600),
        /** Clock difference allowed between the sidecar and the TSA. */
        clockSkewSeconds: decimal(z.number().int().min(0).max(3600)).default(300),
      })
      .strict()
      .prefault({}),
    attest: z
      .object({
        /**
         * Every this many seconds the running sidecar writes the signed attestation report of the
         * period just ended into `<dataDir>/attestations/<from>_<to>/`; 0: off.
         */
        scheduleSeconds: decimal(z.number().int().min(0).max(366 * 86_400)).default(0),
        /**
         * An export package carries the attestation of its period while its chain holds at most this
         * many entries (the checks hold them in memory); a larger one is attested offline with
         * `flaggate attest --export`. Keep in step with DEFAULT_EXPORT_ATTEST_MAX_ENTRIES.
         */
        exportMaxEntries: decimal(z.number().int().min(0)).default(10_000),
      })
      .strict()
      .prefault({}),
    /**
     * WORM retention: `flaggate archive` stores each sealed segment of the ledger in this bucket under
     * an Object Lock in COMPLIANCE mode for `retentionDays`. Absent: no archive.
     */
    archive: z
      .object({
        bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name'),
        /** An S3-compatible endpoint; unset: AWS S3 in `region`. */
        endpoint: z.url().optional(),
        region: z.string().min(1).default('us-east-1'),
        /** Path-style addressing (`endpoint/bucket/key`); unset: on with an `endpoint` (S3-compatible servers need it), off for AWS. */
        forcePathStyle: z.boolean().optional(),
        prefix: z.string().regex(/^([A-Za-z0-9._-]+\/)*$/, 'empty, or path segments each ending in /').default('flaggate/'),
        retentionDays: decimal(z.number().int().min(1).max(36_500)),
        /** Unset: the SDK's default credential chain (AWS_* variables, shared config, instance role). */
        accessKeyId: z.string().min(1).optional(),
        secretAccessKey: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    replicate: z
      .object({
        sinks: z.array(sinkSchema).prefault([{ type: 'jsonl' }]),
        /** A required sink further behind than this refuses changes at once (503) instead of queueing. */
        maxBacklog: decimal(z.number().int().positive()).default(10_000),
        /** Entries per delivery while a sink catches up. */
        batchSize: decimal(z.number().int().min(1).max(10_000)).default(500),
      })
      .prefault({}),
  })
  .strict();

export const configSchema = configObject
  .superRefine((c, ctx) => {
    // The development issuer mints tokens for any name and role, and the console's development
    // sign-in asks for no password: reachable only from the machine itself.
    if (c.identity.devIssuer && !isLoopback(c.host)) {
      ctx.addIssue({ code: 'custom', path: ['identity', 'devIssuer'], message: `the development issuer (and the console's development sign-in) serves only a loopback host, not ${c.host}: configure an identity provider (mode production), or listen on 127.0.0.1` });
    }
    if (c.mode === 'production' && c.identity.devIssuer) {
      ctx.addIssue({ code: 'custom', path: ['identity', 'devIssuer'], message: 'the development issuer is refused in production mode' });
    }
    if (!c.identity.devIssuer && !c.identity.jwksUrl && !c.identity.jwksFile) {
      ctx.addIssue({ code: 'custom', path: ['identity', 'jwksUrl'], message: 'set jwksUrl or jwksFile when the development issuer is off' });
    }
    checkPlatforms(c, ctx);
    if (c.mode === 'production' && c.approvals.issuers.length > 0 && c.audit.chainId === 'local') {
      // Approval tokens name the sidecar by its chain: every sidecar left at the default would take the same token.
      ctx.addIssue({ code: 'custom', path: ['audit', 'chainId'], message: 'name this sidecar (FLAGGATE_CHAIN_ID) when approvals.issuers is set in production mode: approval tokens are bound to it as <audience>:<chainId>, and every sidecar left at the default "local" would accept the same token' });
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
      if (sink.type === 'opensearch') {
        if (sink.apiKey && sink.username) ctx.addIssue({ code: 'custom', path: ['replicate', 'sinks', i, 'apiKey'], message: 'set apiKey or username/password, not both' });
        if (c.mode === 'production' && plainHttp(sink.url)) ctx.addIssue({ code: 'custom', path: ['replicate', 'sinks', i, 'url'], message: 'must be https in production mode' });
      }
      if (sink.type !== 'http') return;
      if (sink.format === 'splunk_hec' && !sink.token) ctx.addIssue({ code: 'custom', path: ['replicate', 'sinks', i, 'token'], message: 'required for format splunk_hec' });
      if (sink.format === 'webhook' && !sink.secret) ctx.addIssue({ code: 'custom', path: ['replicate', 'sinks', i, 'secret'], message: 'required for format webhook' });
      if (c.mode === 'production' && plainHttp(sink.url)) ctx.addIssue({ code: 'custom', path: ['replicate', 'sinks', i, 'url'], message: 'must be https in production mode' });
    });
    if (c.archive && !c.archive.accessKeyId !== !c.archive.secretAccessKey) {
      ctx.addIssue({ code: 'custom', path: ['archive', 'secretAccessKey'], message: 'set accessKeyId and secretAccessKey together, or neither' });
    }
    if (c.mode === 'production' && plainHttp(c.archive?.endpoint)) {
      ctx.addIssue({ code: 'custom', path: ['archive', 'endpoint'], message: 'must be https in production mode' });
    }
    if (c.approvals.store === 'postgres' && !c.replicate.sinks.some((s) => s.type === 'postgres')) {
      ctx.addIssue({ code: 'custom', path: ['approvals', 'store'], message: 'postgres needs a postgres sink in replicate.sinks' });
    }
    c.approvals.issuers.forEach((issuer, i) => {
      if (!issuer.jwksUrl === !issuer.jwksFile) ctx.addIssue({ code: 'custom', path: ['approvals', 'issuers', i, 'jwksUrl'], message: 'set exactly one of jwksUrl or jwksFile' });
    });
    if (c.mode === 'production') checkProductionUrls(c, ctx);
    checkClaimPaths(c.identity, ctx);
    if (c.proxyPort !== 0 && c.proxyPort === c.controlPort) ctx.addIssue({ code: 'custom', path: ['controlPort'], message: `port ${c.controlPort} is also the proxy port: give each its own` });
  })
  // The single `platform` is the list of one: what the rest of flaggate reads is `platforms`.
  .transform(({ platforms, ...c }) => {
    const list = (platforms ?? [c.platform as RoutedPlatform]).map((p): PlatformRoute => ({ ...p, id: idOf(p) }));
    return { ...c, platform: list[0]!, platforms: list };
  });

type ParsedConfig = z.output<typeof configObject>;

/**
 * In production, every URL flaggate fetches keys, tokens, bundles or sign-in from, or sends a
 * credential to, is https: a key set fetched in the clear lets anyone on the path sign tokens that
 * verify (an approval token from an approval system's key set too).
 */
function checkProductionUrls(c: ParsedConfig, ctx: z.RefinementCtx): void {
  const https = (url: string | undefined, path: Array<string | number>) => {
    if (plainHttp(url)) ctx.addIssue({ code: 'custom', path, message: 'must be https in production mode' });
  };
  https(c.console.oidc?.issuer, ['console', 'oidc', 'issuer']);
  https(c.policy.service?.url, ['policy', 'service', 'url']);
  https(c.policy.shadow, ['policy', 'shadow']);
  https(c.identity.jwksUrl, ['identity', 'jwksUrl']);
  c.approvals.issuers.forEach((issuer, i) => https(issuer.jwksUrl, ['approvals', 'issuers', i, 'jwksUrl']));
  // A TSA's answers are signed, so plain HTTP is safe for them, but not for a credential sent with the request.
  c.timestamp.tsaUrls.forEach((tsa, i) => (tsa.bearer || tsa.basic ? https(tsa.url, ['timestamp', 'tsaUrls', i, 'url']) : undefined));
}

/**
 * The roles claim and the groups claim are different claims: names read from one claim as both
 * roles and groups would make every group a role again (a group named release_engineer).
 */
function checkClaimPaths(identity: ParsedConfig['identity'], ctx: z.RefinementCtx): void {
  const [roles, groups] = [identity.rolesClaim, identity.groupsClaim];
  if (groups === undefined) return;
  const within = (a: string, b: string) => a === b || a.startsWith(`${b}.`);
  if (within(roles, groups) || within(groups, roles)) {
    ctx.addIssue({ code: 'custom', path: ['identity', 'groupsClaim'], message: `the groups claim ${JSON.stringify(groups)} and the roles claim ${JSON.stringify(roles)} must be different claims, neither inside the other` });
  }
}
type RoutedPlatform = z.output<typeof routedPlatform>;
/** A platform as the rest of flaggate sees it: its settings, its id, and how requests reach it. */
export type PlatformRoute = RoutedPlatform & { id: string };

const idOf = (p: RoutedPlatform): string => p.id ?? p.name;

/** Each platform's plug-in checks its settings; ids are unique; in a list, each platform has one way in. */
function checkPlatforms(c: ParsedConfig, ctx: z.RefinementCtx): void {
  const list: RoutedPlatform[] = c.platforms ?? [c.platform];
  const at = (i: number, ...rest: Array<string | number>) => (c.platforms ? ['platforms', i, ...rest] : ['platform', ...rest]);
  const ids = new Set<string>();
  list.forEach((p, i) => {
    for (const issue of platformPlugin(p.name).check(p)) ctx.addIssue({ code: 'custom', path: at(i, issue.path), message: issue.message });
    if (p.flagsmith !== undefined && p.name !== 'flagsmith') ctx.addIssue({ code: 'custom', path: at(i, 'flagsmith'), message: `flagsmith settings apply to platform flagsmith, not ${p.name}` });
    const id = idOf(p);
    if (ids.has(id)) ctx.addIssue({ code: 'custom', path: at(i, 'id'), message: `duplicate platform id "${id}": give each platform its own id` });
    ids.add(id);
  });
  if (c.platforms) checkRoutes(c.platforms, c, ctx);
}

/** Every platform of a list reached one way: a path prefix on the proxy port that no other overlaps, or a port of its own. */
function checkRoutes(list: readonly RoutedPlatform[], c: { proxyPort: number; controlPort: number }, ctx: z.RefinementCtx): void {
  const ports = new Set([c.proxyPort, c.controlPort].filter((p) => p !== 0));
  list.forEach((p, i) => {
    const issue = (key: string, message: string) => ctx.addIssue({ code: 'custom', path: ['platforms', i, key], message });
    if (p.pathPrefix !== undefined && p.proxyPort !== undefined) issue('pathPrefix', 'give pathPrefix or proxyPort, not both');
    if (list.length > 1 && p.pathPrefix === undefined && p.proxyPort === undefined) issue('pathPrefix', 'with several platforms, each needs a pathPrefix or a proxyPort of its own');
    if (p.proxyPort !== undefined && p.proxyPort !== 0) {
      if (ports.has(p.proxyPort)) issue('proxyPort', `port ${p.proxyPort} is already taken by another port of this sidecar`);
      ports.add(p.proxyPort);
    }
    list.forEach((q, j) => {
      if (j >= i || p.pathPrefix === undefined || q.pathPrefix === undefined) return;
      const [a, b] = [p.pathPrefix.toLowerCase(), q.pathPrefix.toLowerCase()];
      if (a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`)) issue('pathPrefix', `${p.pathPrefix} overlaps ${q.pathPrefix} (platforms.${j})`);
    });
  });
}

export type Config = z.infer<typeof configSchema>;
export type SinkConfig = z.infer<typeof sinkSchema>;

/** An http: URL, whatever the scheme's case (URL parsing lowercases it later: `HTTP://` is plain HTTP too). */
function plainHttp(url: string | undefined): boolean {
  return url !== undefined && /^http:/i.test(url.trim());
}

/** A host name or address only the machine itself reaches. */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

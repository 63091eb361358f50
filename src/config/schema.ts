import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);

export const sinkSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('jsonl'),
    name: z.string().min(1).default('jsonl'),
    /** Relative paths resolve against dataDir. */
    path: z.string().min(1).default('audit.jsonl'),
    required: z.boolean().default(true),
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
      .default({ bodyBytes: 1024 * 1024, headerBytes: 16 * 1024, tokenBytes: 8 * 1024 }),
    platform: z
      .object({
        name: z.enum(['flagd', 'unleash']).default('flagd'),
        /** Base URL of the platform; for flagd, the flag file's path (relative to dataDir). */
        targetUrl: z.string().min(1).optional(),
        /** The platform credential only the sidecar holds. */
        targetToken: z.string().min(1).optional(),
        /** flagd files hold one environment; this names it. */
        environment: z.string().min(1).default('production'),
        timeoutMs: z.coerce.number().int().positive().default(10_000),
      })
      .default({ name: 'flagd', environment: 'production', timeoutMs: 10_000 }),
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
        leewaySeconds: z.coerce.number().int().min(0).max(300).default(30),
      })
      .default({
        devIssuer: true,
        issuer: 'flaggate-dev',
        audience: 'flaggate',
        algorithms: ['EdDSA', 'ES256', 'RS256', 'PS256'],
        rolesClaim: 'roles',
        nameClaim: 'name',
        leewaySeconds: 30,
      }),
    policy: z
      .object({
        /** The compiled OPA bundle (tar.gz with policy.wasm, data.json and .manifest). */
        bundle: z.string().min(1).optional(),
      })
      .default({}),
    audit: z
      .object({
        /** Names this sidecar's chain; replicas sharing an upstream ledger need distinct ids. */
        chainId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).default('local'),
        file: z.string().min(1).default('ledger.sqlite'),
      })
      .default({ chainId: 'local', file: 'ledger.sqlite' }),
    replicate: z
      .object({ sinks: z.array(sinkSchema).default([{ type: 'jsonl', name: 'jsonl', path: 'audit.jsonl', required: true }]) })
      .default({ sinks: [{ type: 'jsonl', name: 'jsonl', path: 'audit.jsonl', required: true }] }),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.mode === 'production' && c.identity.devIssuer) {
      ctx.addIssue({ code: 'custom', path: ['identity', 'devIssuer'], message: 'the development issuer is refused in production mode' });
    }
    if (!c.identity.devIssuer && !c.identity.jwksUrl && !c.identity.jwksFile) {
      ctx.addIssue({ code: 'custom', path: ['identity', 'jwksUrl'], message: 'set jwksUrl or jwksFile when the development issuer is off' });
    }
    if (c.platform.name !== 'flagd' && !c.platform.targetUrl) {
      ctx.addIssue({ code: 'custom', path: ['platform', 'targetUrl'], message: `required for platform ${c.platform.name}` });
    }
    if (c.mode === 'production' && c.identity.jwksUrl?.startsWith('http:')) {
      ctx.addIssue({ code: 'custom', path: ['identity', 'jwksUrl'], message: 'must be https in production mode' });
    }
  });

export type Config = z.infer<typeof configSchema>;
export type SinkConfig = z.infer<typeof sinkSchema>;

import { fixedClock, systemClock, type Clock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/index.js';
import { mintDevToken } from '../../src/identify/index.js';
import { createLogger } from '../../src/log.js';
import { startFlaggate, type Flaggate } from '../../src/main.js';
import { makeTempDir } from '../support/temp-dir.js';

export const CRITICAL = '/flags/payments.instant-payouts/enable';

export interface ConsoleSidecar {
  app: Flaggate;
  dataDir: string;
  /** Holds a change to the critical flag, requested by `sub` (a release engineer); its id. */
  hold(sub: string, headers?: Record<string, string>): Promise<string>;
  stop(): Promise<void>;
}

/** flaggate with its embedded defaults (flagd, development issuer), the console on its control port. */
export async function startConsoleSidecar(overrides: Record<string, unknown> = {}, clock: Clock = systemClock): Promise<ConsoleSidecar> {
  const tmp = makeTempDir('flaggate-console-');
  const config = loadConfig({ env: {}, overrides: { dataDir: tmp.dir, proxyPort: 0, controlPort: 0, ...overrides } });
  const app = await startFlaggate(config, { clock, logger: createLogger({ level: 'silent' }) });
  return {
    app,
    dataDir: tmp.dir,
    async hold(sub, headers = {}) {
      const token = await mintDevToken({ dataDir: tmp.dir, sub, roles: ['release_engineer'], clock, ttlSeconds: 7 * 24 * 3600 });
      const res = await fetch(app.proxyUrl + CRITICAL, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'x-flaggate-reason': 'payouts launch', 'x-flaggate-ticket': 'CHG-9', ...headers },
      });
      const body = (await res.json()) as { changeRequestId?: string };
      if (res.status !== 202 || !body.changeRequestId) throw new Error(`expected the change to be held, got ${res.status} ${JSON.stringify(body)}`);
      return body.changeRequestId;
    },
    async stop() {
      await app.close();
      tmp.cleanup();
    },
  };
}

/** Monday 2030-01-07 10:00 UTC: inside the policy's business hours. */
export const businessHours = () => fixedClock(Date.UTC(2030, 0, 7, 10));

/** A cookie-keeping HTTP client that signs in through the development form, as a browser would. */
export class ConsoleClient {
  cookies = new Map<string, string>();
  constructor(readonly base: string) {}

  async get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.keep(await fetch(this.base + path, { redirect: 'manual', headers: { cookie: this.cookieHeader(), ...headers } }));
  }

  async post(path: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    return this.keep(
      await fetch(this.base + path, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: this.cookieHeader(), 'content-type': 'application/x-www-form-urlencoded', origin: new URL(this.base).origin, ...headers },
        body: new URLSearchParams(form).toString(),
      }),
    );
  }

  async signIn(name: string, role: string): Promise<Response> {
    const csrf = csrfOf(await (await this.get('/console/sign-in')).text());
    return this.post('/console/sign-in', { csrf, name, role });
  }

  /** The CSRF token in the forms of a page. */
  async csrfOn(path: string): Promise<string> {
    return csrfOf(await (await this.get(path)).text());
  }

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private keep(res: Response): Response {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (/Max-Age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }
}

export function csrfOf(html: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF token on the page');
  return m[1]!;
}

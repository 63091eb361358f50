import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, Response, NextFunction } from 'express';
import { FlaggateError } from '../errors.js';

/** The session cookie: `__Host-` keeps it to this exact origin and path `/` (no Domain, always Secure). */
export const SESSION_COOKIE = '__Host-flaggate-console';
/** Binds a sign-in under way (CSRF token of the form, OIDC state, nonce and PKCE verifier) to one browser. */
export const SIGN_IN_COOKIE = '__Host-flaggate-sign-in';

/**
 * Script, styles and images only from here (no inline script, no eval), forms only to here, never
 * framed. Everything the console needs is served by the console, so it works without any other host.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Headers every console response carries. */
export function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('x-frame-options', 'DENY');
  // Not no-referrer: browsers then send `Origin: null` with the console's own forms.
  res.setHeader('referrer-policy', 'same-origin');
  res.setHeader('cross-origin-opener-policy', 'same-origin');
  res.setHeader('cross-origin-resource-policy', 'same-origin');
  res.setHeader('cache-control', 'no-store');
  next();
}

/** One cookie's value from the Cookie header; a name sent twice counts as absent (it may be planted). */
export function readCookie(req: Request, name: string): string | undefined {
  const found: string[] = [];
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) found.push(part.slice(eq + 1).trim());
  }
  // A session id is 43 characters; a sealed sign-in (its OpenID Connect values inside) a few hundred.
  return found.length === 1 && /^[A-Za-z0-9_-]{1,1024}$/.test(found[0]!) ? found[0] : undefined;
}

/**
 * Browsers accept `Secure` cookies over plain HTTP only from loopback, which is where the console runs
 * without TLS; anywhere else it must be served through HTTPS (`console.publicUrl`).
 */
export function setCookie(res: Response, name: string, value: string, maxAgeSeconds: number): void {
  res.append('set-cookie', `${name}=${value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}`);
}

export function clearCookie(res: Response, name: string): void {
  res.append('set-cookie', `${name}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0`);
}

/**
 * A state-changing form must come from the console's own origin (when the browser says where it came
 * from) and carry the token of the session or sign-in it belongs to.
 */
export function checkForm(req: Request, expectedOrigin: string, expectedToken: string | undefined): void {
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== expectedOrigin) throw csrf(`a form from ${origin} is not accepted`);
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') throw csrf(`a ${site} form is not accepted`);
  const body = req.body as Record<string, unknown> | undefined;
  const presented = typeof body?.csrf === 'string' ? body.csrf : '';
  if (expectedToken === undefined || !timingSafeEqual(digest(presented), digest(expectedToken))) throw csrf('the form is missing its CSRF token or it does not match; reload the page');
}

function csrf(message: string): FlaggateError {
  return new FlaggateError('CONSOLE_CSRF_INVALID', message);
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** HTML text with every markup character escaped: the only way values reach a page. */
export function esc(value: unknown): string {
  const text = value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  return text.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Pretty JSON in a <pre>, escaped. */
export function json(value: unknown): string {
  return `<pre>${esc(JSON.stringify(value ?? null, null, 2))}</pre>`;
}

/**
 * A time: written in UTC, which is what a page without script shows; the console's one script file
 * rewrites it into the viewer's zone and keeps the UTC time in the title (shown on hover).
 */
export function time(iso: string | null | undefined): string {
  if (!iso) return '';
  const utc = iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC');
  return `<time datetime="${esc(iso)}" title="${esc(utc)}">${esc(utc)}</time>`;
}

export interface Layout {
  title: string;
  /** Who is signed in, for the header and the sign-out form. */
  signedIn?: { name: string; id: string; roles: string[]; csrf: string };
  /** The development sign-in is on: every page says so. */
  development: boolean;
  body: string;
}

/** The page frame: header, navigation, sign-out form, the development marking. */
export function page(l: Layout): string {
  const nav = l.signedIn
    ? `<nav aria-label="Main"><a href="/console/">Pending changes</a><a href="/console/audit">Audit log</a><a href="/console/fleet">Fleet and policy</a><a href="/console/break-glass">Break-glass</a></nav>
<form class="sign-out" method="post" action="/console/sign-out"><span>${esc(l.signedIn.name)} (${esc(l.signedIn.id)}; ${esc(l.signedIn.roles.join(', ') || 'no roles')})</span>
<input type="hidden" name="csrf" value="${esc(l.signedIn.csrf)}"><button type="submit">Sign out</button></form>`
    : '';
  const dev = l.development ? '<p class="dev" role="note">Development only: people sign in through the development issuer, without a password.</p>' : '';
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(l.title)} · flaggate</title><link rel="stylesheet" href="/console/assets/console.css"><script src="/console/assets/local-time.js" defer></script></head>
<body><header><a class="brand" href="/console/">flaggate</a>${nav}</header>${dev}
<main><h1>${esc(l.title)}</h1>${l.body}</main></body></html>`;
}

/** The console's only stylesheet, served from the console itself. */
export const STYLESHEET = `
:root{color-scheme:light;--fg:#1b1f24;--muted:#4b5563;--line:#d0d7de;--accent:#0b57d0;--bad:#a4000f;--good:#0a6b2d;--warn:#7a4b00}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,sans-serif;color:var(--fg);background:#fff}
header{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;padding:.5rem 1rem;border-bottom:1px solid var(--line)}
header nav{display:flex;gap:1rem}.brand{font-weight:700;color:var(--fg);text-decoration:none}
a{color:var(--accent)}a:focus,button:focus,input:focus,textarea:focus{outline:3px solid #ffbf47;outline-offset:1px}
.sign-out{margin-left:auto;display:flex;gap:.5rem;align-items:center}.sign-out span{color:var(--muted);font-size:.9rem}
main{padding:1rem;max-width:72rem;margin:0 auto}table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}
th,td{text-align:left;vertical-align:top;border-bottom:1px solid var(--line);padding:.35rem .5rem}
pre{background:#f6f8fa;border:1px solid var(--line);padding:.5rem;overflow:auto;font-size:.85rem;margin:0}
.dev{margin:0;padding:.5rem 1rem;background:#fff4ce;color:var(--warn);border-bottom:1px solid #e6c200;font-weight:600}
.notice{padding:.5rem .75rem;border-left:4px solid var(--warn);background:#fff8e1}
.error{padding:.5rem .75rem;border-left:4px solid var(--bad);background:#fdecea;color:var(--bad)}
.ok{color:var(--good);font-weight:700}.bad{color:var(--bad);font-weight:700}
.status{font-weight:700;text-transform:lowercase}.sides{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
label{display:block;font-weight:600;margin:.5rem 0 .25rem}input[type=text],textarea{width:100%;max-width:30rem;padding:.4rem;font:inherit;border:1px solid #6b7280}
button{font:inherit;padding:.4rem 1rem;margin:.5rem .5rem 0 0;border:1px solid #1f2937;background:#f3f4f6;cursor:pointer}
button.primary{background:var(--accent);color:#fff;border-color:var(--accent)}
.filters{display:flex;flex-wrap:wrap;gap:0 1rem;align-items:flex-end}.filters label{margin-top:0}.filters input,.filters select{max-width:14rem;padding:.4rem;font:inherit;border:1px solid #6b7280}
.pager{display:flex;gap:1rem}.inline{display:inline}code{overflow-wrap:anywhere}
@media (max-width:40rem){.sides{grid-template-columns:1fr}dl{grid-template-columns:1fr}table{font-size:.85rem}}
`;

/**
 * The console's only script, served from the console (CSP `script-src 'self'`, nothing inline):
 * each <time> shows the viewer's local time; its title keeps the UTC time for hover.
 */
export const LOCAL_TIME_SCRIPT = `'use strict';
for (const el of document.querySelectorAll('time[datetime]')) {
  const at = new Date(el.getAttribute('datetime'));
  if (Number.isNaN(at.getTime())) continue;
  // dateStyle cannot be combined with timeZoneName, so the parts are named one by one.
  el.textContent = at.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short' });
}
`;

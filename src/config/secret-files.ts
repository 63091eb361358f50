import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { FlaggateError } from '../errors.js';

/**
 * The configuration keys that hold a credential. In the configuration file each may instead be
 * given as `<key>File`, a path to a file holding it (a mounted Secret), so that no credential sits
 * in the file itself, nor in a ConfigMap rendered from it.
 */
const SECRET_KEYS = new Set(['targetToken', 'token', 'secret', 'password', 'pass', 'bearer', 'apiKey', 'clientSecret', 'secretAccessKey', 'bearerToken', 'url']);

/**
 * `config` with every `<key>File` of a credential key replaced, at any depth, by `<key>` holding the
 * file's text (one trailing newline dropped). Giving both forms, a file that cannot be read, or one
 * that does not hold exactly one non-empty line is CONFIG_INVALID naming the key.
 */
export function withSecretFiles(config: Record<string, unknown>, cwd: string): Record<string, unknown> {
  return replaced(config, [], cwd) as Record<string, unknown>;
}

function replaced(node: unknown, path: string[], cwd: string): unknown {
  if (Array.isArray(node)) return node.map((item, i) => replaced(item, [...path, String(i)], cwd));
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    const secret = key.endsWith('File') ? key.slice(0, -'File'.length) : undefined;
    if (secret === undefined || !SECRET_KEYS.has(secret)) {
      out[key] = replaced(value, [...path, key], cwd);
      continue;
    }
    const at = [...path, key].join('.');
    if (Object.hasOwn(node, secret)) throw invalid(at, `give ${[...path, secret].join('.')} or ${key}, not both`);
    out[secret] = readSecret(value, at, cwd);
  }
  return out;
}

/** A credential from the file `file` names: its one non-empty line (a trailing newline dropped); `at` names the setting in errors. */
export function readSecret(file: unknown, at: string, cwd: string): string {
  if (typeof file !== 'string' || file === '') throw invalid(at, 'must be a file path');
  let text: string;
  try {
    text = readFileSync(resolve(cwd, file), 'utf8');
  } catch (cause) {
    throw invalid(at, `${file} cannot be read`, cause);
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '' || /[\r\n]/.test(value)) throw invalid(at, `${file} must hold one non-empty line`);
  return value;
}

function invalid(at: string, message: string, cause?: unknown): FlaggateError {
  return new FlaggateError('CONFIG_INVALID', `invalid configuration: ${at}: ${message}`, { details: { issues: [`${at}: ${message}`] }, ...(cause === undefined ? {} : { cause }) });
}

import { createHash } from 'node:crypto';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectRetentionCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  PutObjectRetentionCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { FlaggateError } from '../errors.js';

export interface ArchiveStoreOptions {
  bucket: string;
  /** An S3-compatible endpoint (`https://s3.example:9000`); unset: AWS S3 for `region`. */
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  /** Unset: the SDK's default chain (AWS_* variables, shared config, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export interface Retention {
  mode: string | null;
  retainUntil: Date | null;
}

/** The outcome of an S3 call the archive expects refused: its status and S3 error code. */
export interface Refusal {
  refused: boolean;
  status: number | null;
  code: string | null;
}

/** The object store calls the archive makes, each with the object's version id. */
export interface ArchiveStore {
  readonly bucket: string;
  /** Writes a new version under a COMPLIANCE lock until `retainUntil`; the store checks the SHA-256 on receipt. */
  putLocked(key: string, bytes: Buffer, retainUntil: Date): Promise<{ versionId: string }>;
  /** That version's bytes; ARCHIVE_MISSING when the store no longer has it. */
  get(key: string, versionId: string): Promise<Buffer>;
  retention(key: string, versionId: string): Promise<Retention>;
  /** Tries to move the version's retention date to `until` (also past a governance lock). */
  tryShortenRetention(key: string, versionId: string, until: Date): Promise<Refusal>;
  /** Tries to delete the version (also past a governance lock). */
  tryDeleteVersion(key: string, versionId: string): Promise<Refusal>;
  /** Every version of every object under `prefix` (delete markers aside). */
  listVersions(prefix: string): Promise<Array<{ key: string; versionId: string }>>;
  close(): void;
}

/** Opens the store through `@aws-sdk/client-s3`; failures to reach it throw ARCHIVE_UNAVAILABLE. */
export function openArchiveStore(o: ArchiveStoreOptions): ArchiveStore {
  const client = new S3Client({
    region: o.region,
    forcePathStyle: o.forcePathStyle,
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    ...(o.credentials ? { credentials: o.credentials } : {}),
  });
  const Bucket = o.bucket;
  const where = (key: string, versionId?: string) => `s3://${Bucket}/${key}${versionId ? ` version ${versionId}` : ''}`;
  return {
    bucket: Bucket,
    async putLocked(key, bytes, retainUntil) {
      const sha256 = createHash('sha256').update(bytes).digest('base64');
      const out = await call(where(key), () =>
        client.send(
          new PutObjectCommand({
            Bucket,
            Key: key,
            Body: bytes,
            ContentType: 'application/json',
            ChecksumSHA256: sha256,
            ObjectLockMode: 'COMPLIANCE',
            ObjectLockRetainUntilDate: retainUntil,
          }),
        ),
      );
      if (!out.VersionId || out.VersionId === 'null') {
        throw new FlaggateError('ARCHIVE_NOT_LOCKED', `${where(key)}: the store gave no version id (versioning, and so Object Lock, is off)`, { details: { bucket: Bucket, key } });
      }
      return { versionId: out.VersionId };
    },
    async get(key, versionId) {
      const out = await call(where(key, versionId), () => client.send(new GetObjectCommand({ Bucket, Key: key, VersionId: versionId })));
      if (!out.Body) throw new FlaggateError('ARCHIVE_MISSING', `${where(key, versionId)}: no body`, { details: { bucket: Bucket, key, versionId } });
      return Buffer.from(await out.Body.transformToByteArray());
    },
    async retention(key, versionId) {
      const out = await call(where(key, versionId), () => client.send(new GetObjectRetentionCommand({ Bucket, Key: key, VersionId: versionId })));
      return { mode: out.Retention?.Mode ?? null, retainUntil: out.Retention?.RetainUntilDate ?? null };
    },
    tryShortenRetention: (key, versionId, until) =>
      attempt(() =>
        client.send(
          new PutObjectRetentionCommand({ Bucket, Key: key, VersionId: versionId, BypassGovernanceRetention: true, Retention: { Mode: 'COMPLIANCE', RetainUntilDate: until } }),
        ),
      ),
    tryDeleteVersion: (key, versionId) => attempt(() => client.send(new DeleteObjectCommand({ Bucket, Key: key, VersionId: versionId, BypassGovernanceRetention: true }))),
    async listVersions(prefix) {
      const found: Array<{ key: string; versionId: string }> = [];
      let markers: { KeyMarker?: string; VersionIdMarker?: string } = {};
      for (;;) {
        const page = await call(`s3://${Bucket}/${prefix}*`, () => client.send(new ListObjectVersionsCommand({ Bucket, Prefix: prefix, ...markers })));
        for (const v of page.Versions ?? []) if (v.Key && v.VersionId) found.push({ key: v.Key, versionId: v.VersionId });
        if (!page.IsTruncated) return found;
        markers = { ...(page.NextKeyMarker ? { KeyMarker: page.NextKeyMarker } : {}), ...(page.NextVersionIdMarker ? { VersionIdMarker: page.NextVersionIdMarker } : {}) };
      }
    },
    close: () => client.destroy(),
  };
}

/** Runs one S3 call; a missing object or version is ARCHIVE_MISSING, a refusal naming the lock ARCHIVE_NOT_LOCKED, anything else ARCHIVE_UNAVAILABLE. */
async function call<T>(what: string, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (cause) {
    const status = cause instanceof S3ServiceException ? cause.$metadata.httpStatusCode : undefined;
    const name = cause instanceof S3ServiceException ? cause.name : null;
    const details = { what, status: status ?? null, s3Code: name };
    if (status === 404 || name === 'NoSuchKey' || name === 'NoSuchVersion') throw new FlaggateError('ARCHIVE_MISSING', `${what}: not in the store (${name ?? status})`, { cause, details });
    if (name === 'InvalidRequest' && /lock/i.test(String((cause as Error).message))) {
      throw new FlaggateError('ARCHIVE_NOT_LOCKED', `${what}: the bucket refuses Object Lock: ${(cause as Error).message}`, { cause, details });
    }
    if (name === 'ObjectLockConfigurationNotFoundError') throw new FlaggateError('ARCHIVE_NOT_LOCKED', `${what}: the bucket has no Object Lock configuration`, { cause, details });
    throw new FlaggateError('ARCHIVE_UNAVAILABLE', `${what}: ${name ?? 'request failed'}: ${(cause as Error).message}`, { cause, details });
  }
}

async function attempt(send: () => Promise<unknown>): Promise<Refusal> {
  try {
    await send();
    return { refused: false, status: null, code: null };
  } catch (err) {
    if (err instanceof S3ServiceException) return { refused: true, status: err.$metadata.httpStatusCode ?? null, code: err.name };
    throw new FlaggateError('ARCHIVE_UNAVAILABLE', `the object store did not answer: ${(err as Error).message}`, { cause: err });
  }
}

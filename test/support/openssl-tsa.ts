import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Runs the openssl CLI; throws with its stderr on failure. */
export async function openssl(args: string[], cwd?: string): Promise<string> {
  const { stdout } = await run('openssl', args, { cwd, maxBuffer: 4 << 20 });
  return stdout;
}

export type KeyType = 'rsa' | 'ec';
export type EkuMode = 'critical' | 'noncritical' | 'none';

/** A test PKI made by openssl in `dir`: a CA, and TSA certificates issued by `openssl ca`. */
export interface OpensslPki {
  dir: string;
  conf: string;
  caPath: string;
  caPem: string;
  issue(name: string, o: { keyType: KeyType; eku?: EkuMode; startdate?: string; enddate?: string }): Promise<{ keyPath: string; certPath: string; keyPem: string; certPem: string }>;
}

const keyArgs = (t: KeyType) => (t === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);

function config(dir: string): string {
  return `
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused
[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ tsa_critical ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
[ tsa_noncritical ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = timeStamping
[ tsa_none ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = ${dir}
database = $dir/index.txt
new_certs_dir = $dir
serial = $dir/ca.serial
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
[ policy_any ]
commonName = supplied
`;
}

/** Creates a CA (EC P-256) and an `openssl ca` setup in `dir`. */
export async function makeOpensslPki(dir: string): Promise<OpensslPki> {
  const conf = join(dir, 'openssl.cnf');
  writeFileSync(conf, config(dir));
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'ca.serial'), '1000\n');
  const caPath = join(dir, 'ca.pem');
  await openssl(['req', '-x509', '-config', conf, ...keyArgs('ec'), '-nodes', '-keyout', join(dir, 'ca.key'), '-out', caPath,
    '-subj', '/O=flaggate tests/CN=Test TSA Root', '-days', '3650', '-extensions', 'ca_ext']);
  return {
    dir, conf, caPath, caPem: readFileSync(caPath, 'utf8'),
    async issue(name, o) {
      const keyPath = join(dir, `${name}.key`);
      const csr = join(dir, `${name}.csr`);
      const certPath = join(dir, `${name}.pem`);
      await openssl(['req', '-new', '-config', conf, ...keyArgs(o.keyType), '-nodes', '-keyout', keyPath, '-out', csr, '-subj', `/CN=${name}`]);
      const dates = o.startdate && o.enddate ? ['-startdate', o.startdate, '-enddate', o.enddate] : ['-days', '365'];
      await openssl(['ca', '-batch', '-notext', '-config', conf, '-cert', caPath, '-keyfile', join(dir, 'ca.key'), '-in', csr, '-out', certPath,
        '-extensions', `tsa_${o.eku ?? 'critical'}`, ...dates]);
      return { keyPath, certPath, keyPem: readFileSync(keyPath, 'utf8'), certPem: readFileSync(certPath, 'utf8') };
    },
  };
}

/** An `openssl ts -reply` TSA served over HTTP on 127.0.0.1, one openssl process per request. */
export interface OpensslTsa {
  url: string;
  caPem: string;
  caPath: string;
  tsaCertPath: string;
  tsaCertPem: string;
  policy: string;
  /** Runs `openssl ts -reply` on a query directly. */
  reply(tsq: Buffer): Promise<Buffer>;
  close(): Promise<void>;
}

/**
 * Starts a TSA backed by `openssl ts -reply`. `essAlg` sha1 gives ESSCertID, sha256 ESSCertIDv2.
 * The signer certificate may be expired (`startdate`/`enddate`, format YYYYMMDDHHMMSSZ).
 */
export async function startOpensslTsa(pki: OpensslPki, o: { name: string; keyType: KeyType; essAlg?: 'sha1' | 'sha256'; startdate?: string; enddate?: string }): Promise<OpensslTsa> {
  const cert = await pki.issue(o.name, { keyType: o.keyType, ...(o.startdate ? { startdate: o.startdate, enddate: o.enddate } : {}) });
  const dir = pki.dir;
  const section = `tsa_${o.name}`;
  const conf = join(dir, `${o.name}-tsa.cnf`);
  writeFileSync(join(dir, `${o.name}.tsaserial`), '01\n');
  writeFileSync(conf, `
[ tsa ]
default_tsa = ${section}
[ ${section} ]
dir = ${dir}
serial = $dir/${o.name}.tsaserial
crypto_device = builtin
signer_cert = ${cert.certPath}
certs = ${pki.caPath}
signer_key = ${cert.keyPath}
signer_digest = sha256
default_policy = 1.2.3.4.1
other_policies = 1.2.3.4.5
digests = sha256, sha384, sha512
accuracy = secs:1, millisecs:500
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = ${o.essAlg ?? 'sha256'}
`);
  let n = 0;
  const reply = async (tsq: Buffer): Promise<Buffer> => {
    const id = `${o.name}-${++n}`;
    const q = join(dir, `${id}.tsq`);
    const r = join(dir, `${id}.tsr`);
    writeFileSync(q, tsq);
    await openssl(['ts', '-reply', '-config', conf, '-queryfile', q, '-out', r]);
    return readFileSync(r);
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      reply(Buffer.concat(chunks)).then(
        (body) => res.writeHead(200, { 'content-type': 'application/timestamp-reply' }).end(body),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err)),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/tsa`, caPem: pki.caPem, caPath: pki.caPath, tsaCertPath: cert.certPath, tsaCertPem: cert.certPem, policy: '1.2.3.4.1',
    reply,
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}

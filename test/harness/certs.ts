// Test PKI made with openssl at run time: nothing secret is ever committed.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CertFiles {
  cert: string;
  key: string;
}

export interface Pki {
  dir: string;
  /** Test CA: signs every "good" server cert, the wrong-name cert and the expired cert. */
  ca: CertFiles;
  /** Server cert for 127.0.0.1 / localhost signed by the test CA. */
  server: CertFiles;
  untrustedCa: CertFiles;
  /** Server cert for 127.0.0.1 / localhost signed by the untrusted CA. */
  untrustedServer: CertFiles;
  /** Signed by the test CA, SAN DNS:wrong.example.test only. */
  mismatch: CertFiles & { names: string[] };
  /** Signed by the test CA, valid only in the past. */
  expired: CertFiles & { notAfter: string };
  clientCa: CertFiles;
  /** Client cert (extendedKeyUsage clientAuth) signed by the client CA. */
  client: CertFiles;
  /** Self-signed EC P-256 cert + key that signs tokens (goes in `x5c` and `rootcertbundle`). */
  tokenSigner: CertFiles;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

const EXTENSIONS = `
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash

[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
authorityKeyIdentifier = keyid

[wrong_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example.test
authorityKeyIdentifier = keyid

[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid

[signer_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
`;

// A minimal `openssl ca` setup, used only for the expired cert (OpenSSL 3.0's `x509 -req` cannot back-date).
function caConfig(dir: string): string {
  return `
[ca]
default_ca = test_ca

[test_ca]
dir = ${dir}
database = ${dir}/ca-db/index.txt
new_certs_dir = ${dir}/ca-db
serial = ${dir}/ca-db/serial
default_md = sha256
policy = any_policy
unique_subject = no
copy_extensions = none
email_in_dn = no

[any_policy]
commonName = supplied

${EXTENSIONS}
`;
}

async function selfSignedCa(dir: string, name: string, cn: string): Promise<CertFiles> {
  const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  await openssl(
    ['req', '-x509', ...EC, '-keyout', files.key, '-out', files.cert, '-days', '30', '-subj', `/CN=${cn}`,
      '-config', join(dir, 'ext.cnf'), '-extensions', 'ca_ext'],
    dir,
  );
  return files;
}

async function signed(
  dir: string,
  name: string,
  cn: string,
  issuer: CertFiles,
  extensions: string,
): Promise<CertFiles> {
  const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  await openssl(['req', '-new', ...EC, '-keyout', files.key, '-out', csr, '-subj', `/CN=${cn}`], dir);
  await openssl(
    ['x509', '-req', '-in', csr, '-CA', issuer.cert, '-CAkey', issuer.key, '-set_serial', serial(), '-days', '30',
      '-sha256', '-extfile', join(dir, 'ext.cnf'), '-extensions', extensions, '-out', files.cert],
    dir,
  );
  return files;
}

/** A random positive serial. Certificates of one CA are signed in parallel: -CAcreateserial's shared ca.srl file
 * raced ("Unable to load number from ca.srl") when two signings read it while a third wrote it. */
function serial(): string {
  return `0x${(randomBytes(16)[0]! & 0x7f).toString(16).padStart(2, '0')}${randomBytes(15).toString('hex')}`;
}

/** Makes every certificate the harness needs in `dir` (created if missing). Takes well under a second. */
export async function makePki(dir: string): Promise<Pki> {
  await mkdir(join(dir, 'ca-db'), { recursive: true });
  await writeFile(join(dir, 'ext.cnf'), `[req]\ndistinguished_name = dn\n[dn]\n${EXTENSIONS}`);
  await writeFile(join(dir, 'ca.cnf'), caConfig(dir));
  await writeFile(join(dir, 'ca-db', 'index.txt'), '');
  await writeFile(join(dir, 'ca-db', 'serial'), '1000\n');

  const [ca, untrustedCa, clientCa] = await Promise.all([
    selfSignedCa(dir, 'ca', 'dhe-cli test CA'),
    selfSignedCa(dir, 'untrusted-ca', 'dhe-cli untrusted CA'),
    selfSignedCa(dir, 'client-ca', 'dhe-cli client CA'),
  ]);

  const tokenSigner = { cert: join(dir, 'token-signer.crt'), key: join(dir, 'token-signer.key') };
  const expired = { cert: join(dir, 'expired.crt'), key: join(dir, 'expired.key') };
  const notAfter = '20210101000000Z';

  const [server, untrustedServer, mismatch, client] = await Promise.all([
    signed(dir, 'server', '127.0.0.1', ca, 'server_ext'),
    signed(dir, 'untrusted-server', '127.0.0.1', untrustedCa, 'server_ext'),
    signed(dir, 'wrong-name', 'wrong.example.test', ca, 'wrong_ext'),
    signed(dir, 'client', 'dhe-cli test client', clientCa, 'client_ext'),
    openssl(
      ['req', '-x509', ...EC, '-keyout', tokenSigner.key, '-out', tokenSigner.cert, '-days', '30',
        '-subj', '/CN=dhe-cli token signer', '-config', join(dir, 'ext.cnf'), '-extensions', 'signer_ext'],
      dir,
    ),
    (async () => {
      const csr = join(dir, 'expired.csr');
      await openssl(['req', '-new', ...EC, '-keyout', expired.key, '-out', csr, '-subj', '/CN=127.0.0.1'], dir);
      await openssl(
        ['ca', '-batch', '-notext', '-config', join(dir, 'ca.cnf'), '-cert', ca.cert, '-keyfile', ca.key,
          '-in', csr, '-out', expired.cert, '-startdate', '20200101000000Z', '-enddate', notAfter,
          '-extensions', 'server_ext'],
        dir,
      );
    })(),
  ]);

  return {
    dir,
    ca,
    server,
    untrustedCa,
    untrustedServer,
    mismatch: { ...mismatch, names: ['wrong.example.test'] },
    expired: { ...expired, notAfter: '2021-01-01T00:00:00.000Z' },
    clientCa,
    client,
    tokenSigner,
  };
}

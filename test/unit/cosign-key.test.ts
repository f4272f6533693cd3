// cosign's encrypted key format: a round trip, a wrong password, hostile scrypt parameters, and a key made by openssl
// encrypted by us whose public half openssl computes the same.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decryptCosignKey, encryptCosignKey, pemDecode } from '../../src/sign/cosign-key.js';
import { loadPrivateKey } from '../../src/sign/keys.js';

const dir = mkdtempSync(join(tmpdir(), 'dhe-cosign-key-'));

describe('cosign encrypted key', () => {
  it('an openssl key encrypted by us decrypts to the same key; its public half is what openssl derives', async () => {
    const pem = join(dir, 'k.pem');
    execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', pem]);
    const der = createPrivateKey(execFileSync('openssl', ['pkey', '-in', pem]).toString()).export({ format: 'der', type: 'pkcs8' });
    const text = await encryptCosignKey(der, 'pw');
    expect(text).toMatch(/^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/);
    const keyFile = join(dir, 'cosign.key');
    writeFileSync(keyFile, text);
    const key = await loadPrivateKey(keyFile, async () => 'pw');
    const ours = createPublicKey(key).export({ format: 'pem', type: 'spki' }).toString();
    const openssls = execFileSync('openssl', ['pkey', '-in', pem, '-pubout']).toString();
    expect(ours).toBe(openssls);
  });

  it('a wrong password is a usage error; hostile scrypt parameters are refused before any work', async () => {
    const der = createPrivateKey(execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']).toString()).export({ format: 'der', type: 'pkcs8' });
    const body = pemDecode(await encryptCosignKey(der, 'right'))!.der;
    await expect(decryptCosignKey(body, 'wrong', 'k')).rejects.toThrow(/^the password does not decrypt k$/);
    const env = JSON.parse(body.toString());
    env.kdf.params.N = 1 << 30;
    await expect(decryptCosignKey(Buffer.from(JSON.stringify(env)), 'right', 'k')).rejects.toThrow(/scrypt parameters N=1073741824 r=8 p=1 are out of range/);
  });
});

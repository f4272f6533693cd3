// Signing keys: ECDSA P-256 only (cosign's default). A private key is a PEM file: PKCS#8 (`PRIVATE KEY`), SEC1
// (`EC PRIVATE KEY`), PKCS#8 encrypted (`ENCRYPTED PRIVATE KEY`), or cosign's own encrypted format
// (./cosign-key.ts); a public key is a `PUBLIC KEY` (SPKI) PEM, as cosign writes cosign.pub. Signing and
// verifying are node's crypto (SHA-256, ASN.1 DER signatures, as cosign's).

import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { DheError, fsError } from '../errors.js';
import { COSIGN_KEY_PEM_TYPES, decryptCosignKey, encryptCosignKey, pemDecode } from './cosign-key.js';

/** Where a key's password comes from when the key needs one (asked only then). */
export type PasswordSource = () => Promise<string>;

const CURVE = 'prime256v1';

async function readKeyFile(path: string): Promise<string> {
  try {
    const st = await fsp.stat(path);
    if (!st.isFile()) throw new DheError('USAGE', `${path} is not a file`, { hint: 'give the key file with --key FILE' });
    if (st.size > 64 * 1024) throw new DheError('USAGE', `${path} is too large to be a key file`, { hint: 'give a PEM key file' });
    return await fsp.readFile(path, 'utf8');
  } catch (e) {
    if (e instanceof DheError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new DheError('USAGE', `no key file ${path}`, { hint: 'make a key pair with `dhe-cli key generate` (or cosign generate-key-pair)' });
    throw fsError(e, `reading ${path}`);
  }
}

function requireP256(key: KeyObject, path: string): KeyObject {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== CURVE) {
    const kind = key.asymmetricKeyType === 'ec' ? `an EC ${key.asymmetricKeyDetails?.namedCurve ?? ''} key` : `a${key.asymmetricKeyType === 'rsa' ? 'n' : ''} ${key.asymmetricKeyType ?? 'unknown'} key`;
    throw new DheError('USAGE', `${path} holds ${kind.replace(/ +/g, ' ')}; only ECDSA P-256 keys are supported`, { hint: 'make a P-256 key pair with `dhe-cli key generate`' });
  }
  return key;
}

function notAKey(path: string, what: string): DheError {
  return new DheError('USAGE', `${path} is not ${what}`, { hint: what.includes('public') ? 'give the PEM `PUBLIC KEY` file (cosign.pub)' : 'give a PEM EC private key or a cosign.key' });
}

/** A private key file, decrypted with the password when it is encrypted (asked for only then). */
export async function loadPrivateKey(path: string, password: PasswordSource): Promise<KeyObject> {
  const text = await readKeyFile(path);
  const pem = pemDecode(text);
  if (!pem) throw notAKey(path, 'a PEM private key');
  let key: KeyObject;
  if ((COSIGN_KEY_PEM_TYPES as readonly string[]).includes(pem.type)) {
    const der = await decryptCosignKey(pem.der, await password(), path);
    key = parsePrivate(() => createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }), path);
  } else if (pem.type === 'ENCRYPTED PRIVATE KEY') {
    const pass = await password();
    key = parsePrivate(() => createPrivateKey({ key: text, format: 'pem', passphrase: pass }), path, true);
  } else if (pem.type === 'PRIVATE KEY' || pem.type === 'EC PRIVATE KEY') {
    key = parsePrivate(() => createPrivateKey({ key: text, format: 'pem' }), path);
  } else {
    throw notAKey(path, `a private key (its PEM block is ${JSON.stringify(pem.type)})`);
  }
  return requireP256(key, path);
}

function parsePrivate(make: () => KeyObject, path: string, encrypted = false): KeyObject {
  try {
    return make();
  } catch {
    if (encrypted) throw new DheError('USAGE', `the password does not decrypt ${path}`, { hint: 'set COSIGN_PASSWORD to the key file\'s password' });
    throw notAKey(path, 'a readable PEM private key');
  }
}

/** A `PUBLIC KEY` PEM file (SPKI), P-256. */
export async function loadPublicKey(path: string): Promise<KeyObject> {
  const text = await readKeyFile(path);
  const pem = pemDecode(text);
  if (!pem || pem.type !== 'PUBLIC KEY') throw notAKey(path, 'a PEM public key');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: text, format: 'pem' });
  } catch {
    throw notAKey(path, 'a readable PEM public key');
  }
  return requireP256(key, path);
}

/** ECDSA P-256 / SHA-256 over `data`, ASN.1 DER (as cosign and `openssl dgst -sha256 -sign` write it). */
export function signBytes(key: KeyObject, data: Buffer): Buffer {
  return cryptoSign('sha256', data, { key, dsaEncoding: 'der' });
}

/** Whether `signature` (ASN.1 DER) is `key`'s over `data`; a malformed signature is false. */
export function verifyBytes(key: KeyObject, data: Buffer, signature: Buffer): boolean {
  try {
    return cryptoVerify('sha256', data, { key, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}

/** A fresh P-256 key pair: the private key in cosign's encrypted format, the public key as a `PUBLIC KEY` PEM. */
export async function generateCosignKeyPair(password: string): Promise<{ privateKeyPem: string; publicKeyPem: string }> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: CURVE });
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  return { privateKeyPem: await encryptCosignKey(der, password), publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString() };
}

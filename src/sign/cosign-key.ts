// cosign's encrypted private key (sigstore/cosign pkg/cosign/keys.go over go-securesystemslib `encrypted`): a PEM
// block `ENCRYPTED SIGSTORE PRIVATE KEY` (older cosign: `ENCRYPTED COSIGN PRIVATE KEY`) whose body is the JSON
// {"kdf":{"name":"scrypt","params":{"N","r","p"},"salt"},"cipher":{"name":"nacl/secretbox","nonce"},"ciphertext"}
// (byte fields base64, as Go's encoding/json writes []byte). The key is scrypt(password, salt, N, r, p, 32 bytes),
// the plaintext the PKCS#8 DER of the private key, sealed with NaCl secretbox (XSalsa20-Poly1305, @noble/ciphers).

import { randomBytes, scrypt } from 'node:crypto';
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import { DheError } from '../errors.js';

export const COSIGN_KEY_PEM_TYPE = 'ENCRYPTED SIGSTORE PRIVATE KEY';
export const COSIGN_KEY_PEM_TYPES = [COSIGN_KEY_PEM_TYPE, 'ENCRYPTED COSIGN PRIVATE KEY'] as const;

/** go-securesystemslib's defaults (what `cosign generate-key-pair` writes). */
const DEFAULT_PARAMS = { N: 32768, r: 8, p: 1 };
/** Bounds a key file may ask for (the work factor of a hostile file stays within memory and seconds). */
const MAX_N = 1 << 20;
const MAX_R = 32;
const MAX_P = 16;

interface Envelope {
  kdf: { name: string; params: { N: number; r: number; p: number }; salt: string };
  cipher: { name: string; nonce: string };
  ciphertext: string;
}

function malformed(what: string, path: string): DheError {
  return new DheError('USAGE', `${path} is not a usable cosign private key: ${what}`, { hint: 'give the cosign.key `cosign generate-key-pair` or `dhe-cli key generate` wrote' });
}

function deriveKey(password: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  // N·r·128 bytes of memory: 32 MiB at cosign's defaults (node's default maxmem is 32 MiB, too tight)
  const maxmem = Math.max(128 * 1024 * 1024, 2 * 128 * params.N * params.r + 1024 * 1024);
  return new Promise((resolve, reject) => {
    scrypt(Buffer.from(password, 'utf8'), salt, 32, { N: params.N, r: params.r, p: params.p, maxmem }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function parseEnvelope(body: Buffer, path: string): { env: Envelope; salt: Buffer; nonce: Buffer; ciphertext: Buffer } {
  let env: Envelope;
  try {
    env = JSON.parse(body.toString('utf8')) as Envelope;
  } catch {
    throw malformed('its body is not the JSON envelope cosign writes', path);
  }
  if (env?.kdf?.name !== 'scrypt') throw malformed(`key derivation ${JSON.stringify(env?.kdf?.name)} (only scrypt is cosign's)`, path);
  if (env.cipher?.name !== 'nacl/secretbox') throw malformed(`cipher ${JSON.stringify(env.cipher?.name)} (only nacl/secretbox is cosign's)`, path);
  const { N, r, p } = env.kdf.params ?? ({} as Envelope['kdf']['params']);
  const pow2 = Number.isInteger(N) && N > 1 && (N & (N - 1)) === 0;
  if (!pow2 || N > MAX_N || !Number.isInteger(r) || r < 1 || r > MAX_R || !Number.isInteger(p) || p < 1 || p > MAX_P) {
    throw malformed(`scrypt parameters N=${String(N)} r=${String(r)} p=${String(p)} are out of range`, path);
  }
  const salt = Buffer.from(String(env.kdf.salt ?? ''), 'base64');
  const nonce = Buffer.from(String(env.cipher.nonce ?? ''), 'base64');
  const ciphertext = Buffer.from(String(env.ciphertext ?? ''), 'base64');
  if (salt.length === 0 || nonce.length !== 24 || ciphertext.length <= 16) throw malformed('its salt, nonce or ciphertext is missing or of the wrong size', path);
  return { env, salt, nonce, ciphertext };
}

/** The PKCS#8 DER inside a cosign encrypted key body (the PEM's decoded bytes); a wrong password is a usage error. */
export async function decryptCosignKey(body: Buffer, password: string, path: string): Promise<Buffer> {
  const { env, salt, nonce, ciphertext } = parseEnvelope(body, path);
  const key = await deriveKey(password, salt, env.kdf.params);
  try {
    return Buffer.from(xsalsa20poly1305(key, nonce).decrypt(ciphertext));
  } catch {
    throw new DheError('USAGE', `the password does not decrypt ${path}`, { hint: 'set COSIGN_PASSWORD to the password the key was made with' });
  }
}

/** A cosign encrypted key (the PEM text) holding `pkcs8Der`, with fresh salt and nonce. */
export async function encryptCosignKey(pkcs8Der: Buffer, password: string): Promise<string> {
  const salt = randomBytes(32);
  const nonce = randomBytes(24);
  const key = await deriveKey(password, salt, DEFAULT_PARAMS);
  const ciphertext = Buffer.from(xsalsa20poly1305(key, nonce).encrypt(pkcs8Der));
  const env: Envelope = {
    kdf: { name: 'scrypt', params: DEFAULT_PARAMS, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: ciphertext.toString('base64'),
  };
  return pemEncode(COSIGN_KEY_PEM_TYPE, Buffer.from(JSON.stringify(env)));
}

/** A PEM block, 64 base64 characters a line (Go's encoding/pem). */
export function pemEncode(type: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join('\n')}\n-----END ${type}-----\n`;
}

/** The first PEM block of a file: its type and decoded bytes, or undefined when there is none. */
export function pemDecode(text: string): { type: string; der: Buffer } | undefined {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/.exec(text);
  if (!m) return undefined;
  const body = m[2]!.split(/\r?\n/).filter((l) => l.trim() !== '' && !l.includes(':'));
  return { type: m[1]!, der: Buffer.from(body.join(''), 'base64') };
}

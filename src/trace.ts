// The --debug trace. Library code writes through a Trace it is given; secrets are redacted here, once.

export interface Trace {
  readonly enabled: boolean;
  /** One line of debug output; `redact` is applied to it before it is written. */
  log(line: string): void;
}

export const silentTrace: Trace = { enabled: false, log() {} };

const SECRET_HEADER = /^(authorization|proxy-authorization|cookie|set-cookie|x-registry-auth|x-amz-security-token)$/i;
const SECRET_QUERY = /^(x-amz-signature|x-amz-credential|x-amz-security-token|signature|sig|token|access_token|refresh_token|password|x-goog-signature|x-goog-credential|se|sp|sv|skoid|sktid|skt|ske|sks|skv|code|client_secret)$/i;

/** Redacts the value of a header if it may carry a secret. */
export function redactHeader(name: string, value: string): string {
  if (!SECRET_HEADER.test(name)) return value;
  const sp = value.indexOf(' ');
  return sp > 0 ? `${value.slice(0, sp)} [REDACTED]` : '[REDACTED]';
}

/** Redacts signed/secret query parameters and userinfo of a URL. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = u.username ? 'REDACTED' : '';
      u.password = '';
    }
    for (const key of [...u.searchParams.keys()]) {
      if (SECRET_QUERY.test(key)) u.searchParams.set(key, 'REDACTED');
    }
    return u.toString();
  } catch {
    return url;
  }
}

/** Best-effort scrub of free text: bearer/basic credentials, JWT-looking strings, token JSON fields. */
export function redactText(text: string): string {
  return text
    .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g, '$1 [REDACTED]')
    .replace(/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g, '[REDACTED-JWT]')
    .replace(/("(?:token|access_token|refresh_token|identitytoken|password|auth|secret)"\s*:\s*")[^"]*(")/gi, '$1[REDACTED]$2')
    .replace(/([?&](?:token|access_token|refresh_token|password|X-Amz-Signature|sig|signature)=)[^&\s]*/gi, '$1REDACTED');
}

/** A Trace writing to a stream (stderr by default) with redaction applied to every line. */
export function streamTrace(write: (s: string) => void = (s) => process.stderr.write(s)): Trace {
  return {
    enabled: true,
    log(line: string) {
      write(`DEBUG ${redactText(line)}\n`);
    },
  };
}

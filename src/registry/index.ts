// The registry client and everything around it that other modules use.
export * from './client.js';
export * from './errors.js';
export type { Credential, CredentialProvider } from '../auth/types.js';
export { parseWwwAuthenticate, findChallenge, unionScopes, scopesCover, parseScope, type Challenge, type Scope } from '../auth/challenge.js';
export { Authenticator } from '../auth/authenticator.js';
export { fetchToken, checkRealm, type TokenResult } from '../auth/token.js';
export { Transport, parseRetryAfter, backoffDelay, type HttpResponse, type HttpRequest, type RetryOptions, type TimeoutOptions } from '../transport/http.js';
export { explainTlsError, mapNetworkError, probePeerCertificate, tlsHint, type PeerCertInfo } from '../transport/errors.js';
export { loadHostTls, certsDirsFor, type HostTls } from '../transport/tls.js';
export { isLoopbackHost, isMetadataHost, matchesHostList } from '../transport/hosts.js';
export { bypassesProxy, proxyFor } from '../transport/proxy.js';

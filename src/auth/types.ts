// What the registry client needs from the credential stores (src/auth/credentials/ implements it).

export interface Credential {
  username?: string;
  password?: string;
  /** A refresh token (docker's `identitytoken`): exchanged at the token server with grant_type=refresh_token. */
  identityToken?: string;
  /** A bearer token sent to the registry as is (docker's `registrytoken`). */
  registryToken?: string;
  /** Where it came from, for --debug lines: never the secret. */
  source?: string;
}

/** Looks up the credential for a registry ("127.0.0.1:5000", "docker.io"); undefined = anonymous. */
export type CredentialProvider = (registry: string) => Promise<Credential | undefined>;

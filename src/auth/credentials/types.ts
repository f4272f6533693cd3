// The shapes every credential store shares.

export interface Credential {
  username?: string;
  /** Never written to disk when an identityToken is present. */
  password?: string;
  /** A refresh token (docker's `identitytoken`): exchanged at the token server with grant_type=refresh_token. */
  identityToken?: string;
  /** A bearer token sent to the registry as is (docker's `registrytoken`). */
  registryToken?: string;
  /** Where the credential came from, for --debug and messages: never the secret. */
  source?: string;
}

export interface CredentialStore {
  /** Human-readable name: "file /home/me/.dhe-cli/config.json", "helper docker-credential-pass", "keychain". */
  readonly name: string;
  get(server: string): Promise<Credential | undefined>;
  store(server: string, cred: Credential): Promise<void>;
  /** true when something was erased. */
  erase(server: string): Promise<boolean>;
  /** server key → username. */
  list(): Promise<Record<string, string>>;
}

/** docker helpers and docker itself use this username to mean "the secret is an identity token". */
export const TOKEN_USERNAME = '<token>';

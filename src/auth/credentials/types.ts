// The shapes every credential store shares.

// One Credential shape for the whole library: the registry client's (src/auth/types.ts).
import type { Credential } from '../types.js';
export type { Credential };

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

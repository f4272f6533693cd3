// The program's global options, declared once: main.ts registers them, GlobalFlags is typed from them.

import type { OptionSpecs, OptionValues } from './define.js';

export const GLOBAL_OPTIONS = {
  config: { type: 'string', value: 'dir', description: 'config and credentials folder (env DHE_CONFIG, default ~/.dhe-cli)' },
  store: { type: 'string', value: 'dir', description: 'local image store, an OCI image layout (env DHE_STORE, default ~/.dhe-cli/store)' },
  caCert: { type: 'repeatable', value: 'file', description: 'extra trusted CA certificate (PEM), repeatable (env DHE_CA_CERT)' },
  cert: { type: 'string', value: 'file', description: 'TLS client certificate (PEM)' },
  key: { type: 'string', value: 'file', description: 'TLS client key (PEM)' },
  certsDir: {
    type: 'string',
    value: 'dir',
    description:
      'docker certs.d-style folder DIR/HOST[:PORT]/{*.crt,client.cert,client.key}, searched before CONFIG/certs.d, /etc/docker/certs.d and /etc/containers/certs.d (env DHE_CERTS_DIR)',
  },
  insecureRegistry: {
    type: 'repeatable',
    value: 'host[:port]',
    description: 'skip TLS verification and allow plain HTTP for this registry, repeatable (env DHE_INSECURE_REGISTRIES)',
  },
  platform: { type: 'string', value: 'os/arch[/variant]', description: "platform to pick from a multi-platform image (env DHE_PLATFORM, default the host's)" },
  concurrency: { type: 'string', value: 'n', description: 'parallel blob transfers (env DHE_CONCURRENCY, default 4)' },
  debug: { type: 'boolean', description: 'HTTP trace with secrets redacted, and stack traces (env DHE_DEBUG=1)' },
  quiet: { type: 'boolean', short: 'q', description: 'print only the essential result' },
  color: { type: 'boolean', negated: true, description: 'no colour (also off when NO_COLOR is set, CI is set or the output is no TTY)' },
} as const satisfies OptionSpecs;

export type GlobalFlags = OptionValues<typeof GLOBAL_OPTIONS>;

// The name grammar of distribution/reference v0.6 (regexp.go), as docker 28 parses it, checked one part at a time
// so that no pattern runs over the whole text (linear time on any input):
//
//   reference        := name [ ":" tag ] [ "@" digest ]
//   name             := [ domain "/" ] remote-name
//   domain           := host [ ":" port ]                     port := [0-9]+ (any number of digits)
//   host             := domain-name | "[" [a-fA-F0-9:]+ "]"   domain-name := domain-component ( "." domain-component )*
//   domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]      (upper case allowed)
//   remote-name      := path-component ( "/" path-component )*                 (at most 255 characters)
//   path-component   := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//   tag              := [\w][\w.-]{0,127}
//   digest           := algorithm ":" [0-9a-fA-F]{32,}         (then go-digest's checks: see digest.ts)

const DOMAIN_COMPONENT_RE = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
const IPV6_HOST_RE = /^\[[a-fA-F0-9:]+\]$/;
const PORT_RE = /^[0-9]+$/;
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^\w[\w.-]{0,127}$/;
const ID_RE = /^[a-f0-9]{64}$/;

/** Longest repository path (distribution's RepositoryNameTotalLengthMax). */
export const NAME_TOTAL_LENGTH_MAX = 255;

function isDomainName(host: string): boolean {
  return host.split('.').every((c) => DOMAIN_COMPONENT_RE.test(c));
}

/** The host part of a domain and its port text (undefined without a port). */
function splitPort(domain: string): [string, string | undefined] {
  const from = domain.startsWith('[') ? domain.indexOf(']') + 1 : 0;
  const colon = domain.indexOf(':', from);
  return colon < 0 ? [domain, undefined] : [domain.slice(0, colon), domain.slice(colon + 1)];
}

/** Whether text is a registry as the grammar allows it: HOST[:PORT], HOST a domain name or "[IPv6]". */
export function isDomain(text: string): boolean {
  const [host, port] = splitPort(text);
  if (port !== undefined && !PORT_RE.test(port)) return false;
  return host.startsWith('[') ? IPV6_HOST_RE.test(host) : isDomainName(host);
}

export function isPathComponent(text: string): boolean {
  return PATH_COMPONENT_RE.test(text);
}

/** Whether text is a repository path: path components separated by "/" (no length limit here). */
export function isRemoteName(text: string): boolean {
  return text.split('/').every(isPathComponent);
}

export function isValidTag(s: string): boolean {
  return typeof s === 'string' && TAG_RE.test(s);
}

/** A name that is exactly 64 lowercase hex digits: docker refuses it, it would read as an image ID. */
export function isImageId(s: string): boolean {
  return ID_RE.test(s);
}

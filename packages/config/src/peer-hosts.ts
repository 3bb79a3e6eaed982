// Where a peer may be registered. A node sends its outbound key to every peer it calls, so a peer's host
// is a host name or an IP address and nothing else (no port, scheme, path or user info), and never an
// address where something other than a node answers: link-local (cloud metadata at 169.254.169.254),
// unspecified, multicast or broadcast. Loopback stays allowed. PEER_HOSTS can narrow it to a list.
import { BlockList, isIP } from 'node:net';

const REFUSED_NAMES = new Set(['metadata', 'metadata.google.internal', 'metadata.goog']);

const REFUSED_ADDRESSES = new BlockList();
REFUSED_ADDRESSES.addSubnet('0.0.0.0', 8, 'ipv4'); // "this network": 0.0.0.0 reaches the local host
REFUSED_ADDRESSES.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local, cloud metadata
REFUSED_ADDRESSES.addSubnet('224.0.0.0', 4, 'ipv4'); // multicast
REFUSED_ADDRESSES.addAddress('255.255.255.255', 'ipv4'); // broadcast
REFUSED_ADDRESSES.addAddress('::', 'ipv6'); // unspecified
REFUSED_ADDRESSES.addSubnet('fe80::', 10, 'ipv6'); // link-local
REFUSED_ADDRESSES.addSubnet('ff00::', 8, 'ipv6'); // multicast
REFUSED_ADDRESSES.addAddress('fd00:ec2::254', 'ipv6'); // cloud metadata over IPv6

/** Labels of letters, digits, '-' and '_' (not at either end), at most 253 characters in all. */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$/;
/** A last label that URL parsers read as a number turns the whole name into an IPv4 address (2852039166 = 169.254.169.254). */
const NUMERIC_LABEL = /^(?:\d+|0x[0-9a-f]*)$/i;

const family = (address: string) => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

/** The address inside `[…]` (an IPv6 address may be written in brackets), or the text as it is. */
const unbracketed = (host: string) => (/^\[[^\]]*\]$/.test(host) ? host.slice(1, -1) : host);

function isHostName(text: string): boolean {
  return HOST_NAME.test(text) && !NUMERIC_LABEL.test(text.slice(text.lastIndexOf('.') + 1));
}

/** Why `host` cannot be a peer's host, or undefined when it can (before PEER_HOSTS). */
export function peerHostProblem(host: string): string | undefined {
  const address = unbracketed(host);
  if (isIP(address) && !address.includes('%')) {
    return REFUSED_ADDRESSES.check(address, family(address)) ? `${host} is a link-local, metadata, unspecified, multicast or broadcast address` : undefined;
  }
  if (!isHostName(host)) return 'a host name or IP address, without port, scheme, path or user info';
  if (REFUSED_NAMES.has(host.toLowerCase())) return `${host} is a cloud metadata service`;
  return undefined;
}

function parseCidr(entry: string): { address: string; prefix: number } | undefined {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(entry);
  if (!match || !isIP(match[1]!)) return undefined;
  const prefix = Number(match[2]);
  return prefix <= (isIP(match[1]!) === 6 ? 128 : 32) ? { address: match[1]!, prefix } : undefined;
}

/** An entry of PEER_HOSTS: a host name, an IP address or a CIDR block. */
export function isPeerHostEntry(entry: string): boolean {
  return isIP(entry) !== 0 || parseCidr(entry) !== undefined || isHostName(entry);
}

/** Whether `host` is on the PEER_HOSTS list (an empty list allows every host). Names compare without case. */
export function isPeerHostListed(host: string, entries: readonly string[]): boolean {
  if (!entries.length) return true;
  const address = unbracketed(host);
  if (!isIP(address)) return entries.some((entry) => entry.toLowerCase() === host.toLowerCase());
  const listed = new BlockList();
  for (const entry of entries) {
    const cidr = parseCidr(entry);
    if (cidr) listed.addSubnet(cidr.address, cidr.prefix, family(cidr.address));
    else if (isIP(entry)) listed.addAddress(entry, family(entry));
  }
  return listed.check(address, family(address));
}

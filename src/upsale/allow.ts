// upsale.allow: the platform authenticates by its source address only (spec), so this list is the
// whole access control of the upsale endpoints. Parsed once at start; a wrong entry stops the
// service with the entry named, rather than silently allowing or denying.
import ipaddr from 'ipaddr.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

export type AllowCheck = (remoteAddress: string | undefined) => boolean;

function parseEntry(entry: string): Range {
  try {
    if (entry.includes('/')) return ipaddr.parseCIDR(entry);
    const addr = ipaddr.parse(entry);
    return [addr, addr.kind() === 'ipv4' ? 32 : 128];
  } catch {
    throw new Error(`upsale.allow: "${entry}" is not an IP address or CIDR`);
  }
}

/**
 * A predicate over the caller's address. An IPv4-mapped IPv6 address (::ffff:10.1.2.3, what a
 * dual-stack socket reports for an IPv4 caller) is matched as the IPv4 address it carries, and
 * an IPv4 caller also matches an IPv6 range written as ::ffff:a.b.c.d/n. Anything unparsable is
 * refused.
 */
export function allowList(entries: readonly string[]): AllowCheck {
  const ranges = entries.map(parseEntry);
  return (remoteAddress) => {
    const raw = remoteAddress?.replace(/%.*$/, ''); // a link-local zone (fe80::1%eth0) names no host
    if (!raw || !ipaddr.isValid(raw)) return false;
    // process() turns ::ffff:a.b.c.d into the IPv4 address a.b.c.d
    const addr = ipaddr.process(raw);
    const mapped = addr.kind() === 'ipv4' ? (addr as ipaddr.IPv4).toIPv4MappedAddress() : null;
    return ranges.some(([net, bits]) => {
      if (net.kind() === addr.kind()) return addr.match(net, bits);
      return mapped !== null && net.kind() === 'ipv6' && mapped.match(net, bits);
    });
  };
}

// ip.ts — the key a client address is counted under by the per-IP limits (relay.ts).
//
// An IPv4 address is one host. An IPv6 host is normally given a whole /64 (RFC 4291
// section 2.5.4: the interface identifier is 64 bits; RFC 8981 privacy addresses rotate
// inside it, and any host on the /64 may pick as many addresses as it likes), so counting
// IPv6 per address would give one client 2^64 fresh budgets. IPv6 is therefore counted per
// /64, written "<first four groups, canonical>::/64" (RFC 5952 lower case, no leading
// zeros). An IPv4-mapped IPv6 address (::ffff:a.b.c.d, RFC 4291 section 2.5.5.2) is the
// IPv4 host it maps.
//
// Trust: the input is CF-Connecting-IP (Cloudflare's); anything that does not parse is its
// own key, unchanged, so a malformed value is still limited (alone) rather than refused.

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const GROUP = /^[0-9A-Fa-f]{1,4}$/;

// The eight 16-bit groups of an IPv6 address (hex groups, at most one "::", optionally a
// dotted IPv4 address as the last 32 bits), or null. Zone ids ("%eth0") are not accepted.
export function parseIpv6(text: string): number[] | null {
  if (text.length > 45 || !text.includes(":")) return null;
  let s = text;
  const tail: number[] = [];
  const lastColon = s.lastIndexOf(":");
  const v4 = s.slice(lastColon + 1);
  if (v4.includes(".")) {
    if (!IPV4.test(v4)) return null;
    const o = v4.split(".").map(Number);
    tail.push((o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!);
    // "::ffff:1.2.3.4" -> "::ffff"; "::1.2.3.4" -> "::" (the "::" itself stays).
    s = s.slice(0, lastColon + 1);
    if (!s.endsWith("::")) s = s.slice(0, -1);
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const head = groupsOf(halves[0]!);
  const rest = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (head === null || rest === null) return null;
  const given = head.length + rest.length + tail.length;
  if (halves.length === 1) return given === 8 ? [...head, ...tail] : null;
  if (given > 7) return null; // "::" stands for at least one zero group
  return [...head, ...new Array<number>(8 - given).fill(0), ...rest, ...tail];
}

function groupsOf(part: string): number[] | null {
  if (part === "") return [];
  const out: number[] = [];
  for (const g of part.split(":")) {
    if (!GROUP.test(g)) return null;
    out.push(parseInt(g, 16));
  }
  return out;
}

// What the per-IP limits count `ip` under: an IPv4 address itself, an IPv6 address's /64
// ("2001:db8:1:2::/64"), an IPv4-mapped address's IPv4 address; anything else unchanged.
export function ipLimitKey(ip: string): string {
  const t = ip.trim();
  if (IPV4.test(t)) return t;
  const g = parseIpv6(t);
  if (g === null) return t;
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    return `${g[6]! >> 8}.${g[6]! & 0xff}.${g[7]! >> 8}.${g[7]! & 0xff}`;
  }
  // RFC 5952: the longest run of zero groups becomes "::". The last four groups of a /64
  // are zero, a run of at least four that no run inside the first four can beat, so the
  // text is the first four groups without their trailing zeros, then "::".
  const prefix = g.slice(0, 4);
  while (prefix.length > 0 && prefix[prefix.length - 1] === 0) prefix.pop();
  return `${prefix.map((x) => x.toString(16)).join(":")}::/64`;
}

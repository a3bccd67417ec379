// Per-IP limit keys (src/ip.ts): IPv4 per address, IPv6 per /64 in RFC 5952 form, IPv4-mapped
// IPv6 as its IPv4 address; and through the relay, two addresses of one /64 share one limit.
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { ipLimitKey, parseIpv6 } from "../src/ip";
import { bridgeClient, configure, ORIGIN_A, region, resetOrigins } from "./helpers";

describe("ipLimitKey", () => {
  it.each([
    ["192.0.2.7", "192.0.2.7"],
    [" 192.0.2.7 ", "192.0.2.7"],
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
    ["2001:DB8:1:2::ABCD", "2001:db8:1:2::/64"],
    ["2001:0db8:0001:0002:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"],
    ["2001:db8::1", "2001:db8::/64"],
    ["2001:db8:0:0:1::", "2001:db8::/64"],
    ["2001:0:0:1::5", "2001:0:0:1::/64"],
    ["2001:db8:1::", "2001:db8:1::/64"],
    ["::1", "::/64"],
    ["::", "::/64"],
    ["fe80::1:2:3:4", "fe80::/64"],
    ["64:ff9b::192.0.2.33", "64:ff9b::/64"],
    ["::ffff:192.0.2.33", "192.0.2.33"],
    ["::FFFF:c000:0221", "192.0.2.33"],
    // Not an address: its own key, unchanged (still limited, alone).
    ["2001:db8::1::2", "2001:db8::1::2"],
    ["2001:db8:1:2:3:4:5:6:7", "2001:db8:1:2:3:4:5:6:7"],
    ["1:2:3:4:5:6:7::8", "1:2:3:4:5:6:7::8"],
    ["12345::1", "12345::1"],
    ["fe80::1%eth0", "fe80::1%eth0"],
    ["::ffff:192.0.2.256", "::ffff:192.0.2.256"],
    ["192.0.2", "192.0.2"],
    ["", ""],
  ])("%s -> %s", (ip, key) => {
    expect(ipLimitKey(ip)).toBe(key);
  });

  it("parses the forms of RFC 4291 section 2.2", () => {
    expect(parseIpv6("1:2:3:4:5:6:7:8")).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(parseIpv6("1::8")).toEqual([1, 0, 0, 0, 0, 0, 0, 8]);
    expect(parseIpv6("1:2:3:4:5:6:7::")).toEqual([1, 2, 3, 4, 5, 6, 7, 0]);
    expect(parseIpv6("::2:3:4:5:6:7:8")).toEqual([0, 2, 3, 4, 5, 6, 7, 8]);
    expect(parseIpv6("1:2:3:4:5:6:192.0.2.1")).toEqual([1, 2, 3, 4, 5, 6, 0xc000, 0x0201]);
    expect(parseIpv6("::192.0.2.1")).toEqual([0, 0, 0, 0, 0, 0, 0xc000, 0x0201]);
    expect(parseIpv6("1:2:3:4:5:6:7:192.0.2.1")).toBeNull();
    expect(parseIpv6("1:2:3:4:5:6:7")).toBeNull();
    expect(parseIpv6(":1:2:3:4:5:6:7")).toBeNull();
    expect(parseIpv6("1:2:3:4:5:6:7:")).toBeNull();
    expect(parseIpv6("192.0.2.1")).toBeNull();
  });

  // Random addresses written every way RFC 4291 allows (full, without leading zeros, with
  // each possible "::", upper case) parse back to their groups; random junk never throws.
  it("round-trips random addresses in every written form; never throws on junk", () => {
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 300; i++) {
      // Zero groups are frequent, so that "::" has runs to stand for.
      const g = Array.from({ length: 8 }, () => (rnd(3) === 0 ? 0 : rnd(0x10000)));
      const forms = [g.map((x) => x.toString(16).padStart(4, "0")).join(":"), g.map((x) => x.toString(16)).join(":")];
      for (let a = 0; a < 8; a++) {
        for (let b = a + 1; b <= 8; b++) {
          if (g.slice(a, b).every((x) => x === 0)) forms.push(`${g.slice(0, a).map((x) => x.toString(16)).join(":")}::${g.slice(b).map((x) => x.toString(16)).join(":")}`);
        }
      }
      for (const f of forms) {
        expect(parseIpv6(f), f).toEqual(g);
        expect(parseIpv6(f.toUpperCase()), f).toEqual(g);
        const key = ipLimitKey(f);
        if (!(g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff)) {
          expect(parseIpv6(key.replace(/\/64$/, "")), f).toEqual([...g.slice(0, 4), 0, 0, 0, 0]);
        }
      }
    }
    const alphabet = "0123456789abcdefABCDEF:.%/ gx";
    for (let i = 0; i < 3000; i++) {
      const junk = Array.from({ length: rnd(46) }, () => alphabet[rnd(alphabet.length)]).join("");
      expect(typeof ipLimitKey(junk)).toBe("string");
      const g = parseIpv6(junk);
      if (g !== null) expect(g.length === 8 && g.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffff), junk).toBe(true);
    }
  });
});

describe("per-IP limits through the relay", () => {
  beforeEach(async () => {
    await resetOrigins();
    await configure([region("a", ORIGIN_A)]);
  });

  it("counts every address of one IPv6 /64 as one client, and another /64 apart", async () => {
    const e = { ...env, LIMIT_IP_CONCURRENT: "1" };
    const net = `2001:db8:${(Date.now() % 0xffff).toString(16)}:64`;
    const first = await bridgeClient({ ip: `${net}::1`, e });
    expect(await first.reply()).toMatch(/^220 /);
    // Another address in the same /64 (a privacy address of the same host): refused.
    const same = await bridgeClient({ ip: `${net}:a1b2:c3d4:e5f6:1234`, e });
    expect(await same.reply()).toMatch(/^421 4\.7\.0 Error: too many connections from your address/);
    await same.waitClosed();
    // The neighbouring /64 is another client.
    const other = await bridgeClient({ ip: `${net.replace(/:64$/, ":65")}::1`, e });
    expect(await other.reply()).toMatch(/^220 /);
    first.send("QUIT\r\n");
    other.send("QUIT\r\n");
    await first.waitClosed();
    await other.waitClosed();
  });

  it("counts the connection rate per /64", async () => {
    const e = { ...env, LIMIT_IP_CONNECTIONS: "2/1h", LIMIT_IP_CONCURRENT: "0" };
    const net = `2001:db8:${((Date.now() + 7) % 0xffff).toString(16)}:99`;
    for (const host of ["::1", "::2"]) {
      const c = await bridgeClient({ ip: `${net}${host}`, e });
      expect(await c.reply()).toMatch(/^220 /);
      c.send("QUIT\r\n");
      await c.waitClosed();
    }
    const third = await bridgeClient({ ip: `${net}:ffff:ffff:ffff:ffff`, e });
    expect(await third.reply()).toMatch(/^421 4\.7\.0 Error: connection rate limit exceeded/);
  });
});

// The incremental HMAC-SHA256 (over chunks, two DigestStreams) against WebCrypto's one-shot
// HMAC, for keys shorter than, equal to and longer than the block, and any chunking.
import { describe, expect, it } from "vitest";
import { base64, hmacSha256, parseSecret, SecretError, signedEnvelope, signHeaders } from "../src/signing";

async function reference(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, data));
}

describe("HMAC-SHA256 over chunks", () => {
  it("equals WebCrypto's HMAC for every key length class and chunking", async () => {
    for (const keyLen of [1, 20, 63, 64, 65, 200]) {
      for (const dataLen of [0, 1, 55, 64, 1000, 70_000]) {
        const key = crypto.getRandomValues(new Uint8Array(keyLen));
        const data = new Uint8Array(dataLen);
        for (let i = 0; i < dataLen; i += 65536) crypto.getRandomValues(data.subarray(i, Math.min(dataLen, i + 65536)));
        const want = await reference(key, data);
        for (const chunk of [1000, 7, dataLen || 1]) {
          if (chunk === 7 && dataLen > 1000) continue;
          const parts: Uint8Array[] = [];
          for (let i = 0; i < dataLen; i += chunk) parts.push(data.subarray(i, i + chunk));
          expect(base64(await hmacSha256(key, parts)), `key ${keyLen}, data ${dataLen}, chunk ${chunk}`).toBe(base64(want));
        }
      }
    }
  });

  it("reads whsec_ secrets and refuses anything else", () => {
    expect(parseSecret(`whsec_${btoa("abc")}`)).toEqual(new Uint8Array([97, 98, 99]));
    for (const bad of [undefined, "", "abc", "whsec_", "whsec_***"]) expect(() => parseSecret(bad)).toThrow(SecretError);
  });

  it("signs the ingest envelope as four trimmed lines, absent headers empty", () => {
    const lines = new TextDecoder("latin1").decode(
      signedEnvelope({ "MX-Mail-From": " <a@example.org>\t", "MX-Rcpt-To": "b@example.test", "MX-Client-IP": "192.0.2.7" }),
    );
    expect(lines).toBe("mx-mail-from:<a@example.org>\nmx-rcpt-to:b@example.test\nmx-client-ip:192.0.2.7\nmx-client-helo:\n\n");
    // UTF-8 addresses travel as octet strings: one byte per code point.
    expect(Array.from(signedEnvelope({ "MX-Rcpt-To": "j\u00c3\u00b6rg@x" }).subarray(24, 29))).toEqual([0x3a, 0x6a, 0xc3, 0xb6, 0x72]);
  });

  it("puts the version tag on the signature", async () => {
    const key = new Uint8Array(32).fill(7);
    const v1e = await signHeaders(key, "msg_1", 1800000000, [new Uint8Array([1, 2])], "v1e");
    const v1 = await signHeaders(key, "msg_1", 1800000000, [new Uint8Array([1, 2])]);
    expect(v1e["webhook-signature"].startsWith("v1e,")).toBe(true);
    expect(v1["webhook-signature"].slice(3)).toBe(v1e["webhook-signature"].slice(4));
  });
});

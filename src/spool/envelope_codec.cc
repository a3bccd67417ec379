// spool/envelope_codec.cc — see envelope_codec.h. Layouts:
// Version 2 (current):
//   u8 version, u8 flags (bit0 smtputf8, bit1 esmtp, bit2 chunked), u8 reception,
//   u8 body type, u16 client_port, i64 received_at (nanoseconds since the Unix epoch),
//   u64 declared_size, 26 bytes id (ULID text), then the strings and recipients of v1.
// Version 1:
//   u8 version, u8 flags (bit0 smtputf8, bit1 body_8bit), u16 client_port,
//   i64 received_at (nanoseconds since the Unix epoch), 26 bytes id (ULID text),
//   9 strings (u32 length + bytes): tenant, listener, mail_from, helo, client_ip,
//   proxy_peer_ip, tls_version, tls_cipher, auth_user;
//   u32 recipient count, then that many strings.
#include "spool/envelope_codec.h"

#include <chrono>
#include <cstring>

namespace mx::spool {
namespace {

void putU16(std::string& out, uint16_t v) {
  char b[2] = {static_cast<char>(v), static_cast<char>(v >> 8)};
  out.append(b, 2);
}
void putU32(std::string& out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out.append(b, 4);
}
void putU64(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out.append(b, 8);
}
void putStr(std::string& out, std::string_view s) {
  putU32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

// A bounds-checked cursor over the input.
class Cursor {
 public:
  explicit Cursor(std::string_view in) : in_(in) {}
  bool u8(uint8_t& v) {
    if (in_.size() - pos_ < 1) return false;
    v = static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  bool u16(uint16_t& v) {
    uint64_t x;
    if (!le(2, x)) return false;
    v = static_cast<uint16_t>(x);
    return true;
  }
  bool u32(uint32_t& v) {
    uint64_t x;
    if (!le(4, x)) return false;
    v = static_cast<uint32_t>(x);
    return true;
  }
  bool u64(uint64_t& v) { return le(8, v); }
  bool bytes(size_t n, std::string_view& v) {
    if (in_.size() - pos_ < n) return false;
    v = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool str(std::string& s) {
    uint32_t n;
    std::string_view v;
    if (!u32(n) || !bytes(n, v)) return false;
    s.assign(v);
    return true;
  }
  size_t remaining() const { return in_.size() - pos_; }

 private:
  bool le(int n, uint64_t& v) {
    if (in_.size() - pos_ < static_cast<size_t>(n)) return false;
    v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(in_[pos_ + i])) << (8 * i);
    pos_ += static_cast<size_t>(n);
    return true;
  }
  std::string_view in_;
  size_t pos_ = 0;
};

Error bad(const char* what) {
  return Error(ErrorClass::kPermanentBackend, std::string("spool envelope: ") + what);
}


size_t encodedSizeHint(const Envelope& e) {
  size_t need = 64 + e.tenant.size() + e.listener.size() + e.mail_from.size() + e.helo.size() +
                e.client_ip.size() + e.proxy_peer_ip.size() + e.tls_version.size() +
                e.tls_cipher.size() + e.auth_user.size() + 9 * 4;
  for (const auto& r : e.rcpt_to) need += 4 + r.size();
  return need;
}

void putTime(std::string& out, WallTime t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch());
  putU64(out, static_cast<uint64_t>(ns.count()));
}

// The part every version shares: the nine strings and the recipients.
void putStrings(const Envelope& e, std::string& out) {
  putStr(out, e.tenant);
  putStr(out, e.listener);
  putStr(out, e.mail_from);
  putStr(out, e.helo);
  putStr(out, e.client_ip);
  putStr(out, e.proxy_peer_ip);
  putStr(out, e.tls_version);
  putStr(out, e.tls_cipher);
  putStr(out, e.auth_user);
  putU32(out, static_cast<uint32_t>(e.rcpt_to.size()));
  for (const auto& r : e.rcpt_to) putStr(out, r);
}

Status getStrings(Cursor& c, Envelope& e) {
  if (!c.str(e.tenant) || !c.str(e.listener) || !c.str(e.mail_from) || !c.str(e.helo) ||
      !c.str(e.client_ip) || !c.str(e.proxy_peer_ip) || !c.str(e.tls_version) ||
      !c.str(e.tls_cipher) || !c.str(e.auth_user)) {
    return bad("truncated");
  }
  uint32_t n;
  if (!c.u32(n)) return bad("truncated");
  // Each recipient takes at least its 4-byte length: a count beyond that is a lie, and
  // checking it first keeps the allocation bounded by the input size.
  if (n > c.remaining() / 4) return bad("recipient count exceeds data");
  e.rcpt_to.resize(n);
  for (auto& r : e.rcpt_to) {
    if (!c.str(r)) return bad("truncated");
  }
  if (c.remaining() != 0) return bad("trailing bytes");
  return okStatus();
}

Status getId(Cursor& c, Envelope& e) {
  std::string_view id;
  if (!c.bytes(MessageId::kTextLength, id)) return bad("truncated");
  auto parsed = MessageId::parse(id);
  if (!parsed) return bad("invalid message id");
  e.id = *parsed;
  return okStatus();
}

WallTime fromNanos(uint64_t ns) {
  return WallTime(std::chrono::duration_cast<WallTime::duration>(
      std::chrono::nanoseconds(static_cast<int64_t>(ns))));
}

Result<Envelope> decodeV1(Cursor& c) {
  Envelope e;
  uint8_t flags;
  uint16_t port;
  uint64_t ns;
  if (!c.u8(flags) || !c.u16(port) || !c.u64(ns)) return bad("truncated");
  if ((flags & ~3u) != 0) return bad("unknown flags");
  if (auto s = getId(c, e); !s.ok()) return s.error();
  e.smtputf8 = (flags & 1u) != 0;
  e.body = (flags & 2u) != 0 ? BodyType::kEightBitMime : BodyType::kSevenBit;
  e.client_port = port;
  e.received_at = fromNanos(ns);
  if (auto s = getStrings(c, e); !s.ok()) return s.error();
  return e;
}

Result<Envelope> decodeV2(Cursor& c) {
  Envelope e;
  uint8_t flags, reception, body;
  uint16_t port;
  uint64_t ns, declared;
  if (!c.u8(flags) || !c.u8(reception) || !c.u8(body) || !c.u16(port) || !c.u64(ns) ||
      !c.u64(declared)) {
    return bad("truncated");
  }
  if ((flags & ~7u) != 0) return bad("unknown flags");
  if (reception >= kReceptionCount) return bad("unknown reception");
  if (body >= kBodyTypeCount) return bad("unknown body type");
  if (auto s = getId(c, e); !s.ok()) return s.error();
  e.smtputf8 = (flags & 1u) != 0;
  e.esmtp = (flags & 2u) != 0;
  e.chunked = (flags & 4u) != 0;
  e.reception = static_cast<Reception>(reception);
  e.body = static_cast<BodyType>(body);
  e.client_port = port;
  e.received_at = fromNanos(ns);
  e.declared_size = declared;
  if (auto s = getStrings(c, e); !s.ok()) return s.error();
  return e;
}

}  // namespace

void encodeEnvelope(const Envelope& e, std::string& out) {
  out.reserve(out.size() + encodedSizeHint(e));
  out.push_back(static_cast<char>(kEnvelopeVersion));
  out.push_back(static_cast<char>((e.smtputf8 ? 1 : 0) | (e.esmtp ? 2 : 0) | (e.chunked ? 4 : 0)));
  out.push_back(static_cast<char>(e.reception));
  out.push_back(static_cast<char>(e.body));
  putU16(out, e.client_port);
  putTime(out, e.received_at);
  putU64(out, e.declared_size);
  out.append(e.id.toString());
  putStrings(e, out);
}

void encodeEnvelopeV1ForTest(const Envelope& e, std::string& out) {
  out.reserve(out.size() + encodedSizeHint(e));
  out.push_back(1);
  out.push_back(static_cast<char>((e.smtputf8 ? 1 : 0) | (e.body8bit() ? 2 : 0)));
  putU16(out, e.client_port);
  putTime(out, e.received_at);
  out.append(e.id.toString());
  putStrings(e, out);
}

Result<Envelope> decodeEnvelope(std::string_view in) {
  Cursor c(in);
  uint8_t version;
  if (!c.u8(version)) return bad("truncated");
  switch (version) {
    case 1: return decodeV1(c);
    case 2: return decodeV2(c);
    default: return bad("unknown version");
  }
}

}  // namespace mx::spool

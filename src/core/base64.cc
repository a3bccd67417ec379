// core/base64.cc — see base64.h. RFC 4648 section 4.
#include "core/base64.h"

#include <array>
#include <cstdint>

namespace mx {
namespace {

constexpr char kEnc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> makeDecodeTable() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(kEnc[i])] = static_cast<int8_t>(i);
  return t;
}
constexpr auto kDec = makeDecodeTable();

}  // namespace

std::string base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kEnc[v >> 18];
    out += kEnc[(v >> 12) & 63];
    out += kEnc[(v >> 6) & 63];
    out += kEnc[v & 63];
  }
  size_t rest = in.size() - i;
  if (rest == 1) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += kEnc[v >> 18];
    out += kEnc[(v >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kEnc[v >> 18];
    out += kEnc[(v >> 12) & 63];
    out += kEnc[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> base64DecodeStrict(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    bool last = i + 4 == in.size();
    int pad = 0;
    if (last && in[i + 3] == '=') pad = (in[i + 2] == '=') ? 2 : 1;
    int a = kDec[uint8_t(in[i])], b = kDec[uint8_t(in[i + 1])];
    int c = pad >= 2 ? 0 : kDec[uint8_t(in[i + 2])];
    int d = pad >= 1 ? 0 : kDec[uint8_t(in[i + 3])];
    if (a < 0 || b < 0 || c < 0 || d < 0) return std::nullopt;
    uint32_t v = (uint32_t(a) << 18) | (uint32_t(b) << 12) | (uint32_t(c) << 6) | uint32_t(d);
    out += static_cast<char>(v >> 16);
    if (pad < 2) out += static_cast<char>((v >> 8) & 0xFF);
    if (pad < 1) out += static_cast<char>(v & 0xFF);
    // RFC 4648 section 3.5: bits past the data must be zero in canonical encoding.
    if ((pad == 2 && (v & 0xFFFF)) || (pad == 1 && (v & 0xFF))) return std::nullopt;
  }
  return out;
}

}  // namespace mx

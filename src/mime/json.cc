// mime/json.cc — see json.h. RFC 8259 (JSON text and string escaping); the document shape
// is schemas/parsed-email.schema.json (version 3); header values are unfolded (RFC 5322
// section 2.2.3) and, except in the structured fields listed in kRawFields, RFC 2047 decoded.
// Trust: message strings are untrusted and always escaped; header bytes that are not UTF-8
// are decoded as windows-1252 (the HEADER_8BIT rule) before escaping.
#include "mime/json.h"

#include <cstring>

#include "core/json_writer.h"
#include "core/sha256.h"
#include "mime/charset.h"
#include "mime/header.h"
#include "mime/parser.h"

namespace mx::mime {
namespace {

// Structured fields whose "=?" sequences are data, not encoded words.
bool keepRaw(std::string_view name) {
  static constexpr std::string_view kRawFields[] = {"received",
                                                    "dkim-signature",
                                                    "arc-seal",
                                                    "arc-message-signature",
                                                    "arc-authentication-results",
                                                    "authentication-results",
                                                    "domainkey-signature",
                                                    "message-id",
                                                    "in-reply-to",
                                                    "references",
                                                    "content-type",
                                                    "content-disposition",
                                                    "content-transfer-encoding",
                                                    "return-path",
                                                    "date",
                                                    "received-spf",
                                                    "mime-version",
                                                    "list-unsubscribe",
                                                    "list-unsubscribe-post",
                                                    "list-id",
                                                    "list-post",
                                                    "list-help",
                                                    "list-archive",
                                                    "list-subscribe",
                                                    "content-id",
                                                    "resent-message-id",
                                                    "x-google-dkim-signature"};
  for (std::string_view k : kRawFields) {
    if (equalsIgnoreCase(name, k)) return true;
  }
  return false;
}

bool plainAsciiLine(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7F) {
      if (c != '\t') return false;
    }
  }
  return true;
}

std::string_view trimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

void optString(JsonWriter& w, std::string_view key, const std::optional<std::string>& v) {
  w.key(key);
  if (v) {
    w.value(*v);
  } else {
    w.null();
  }
}

void writeAddress(JsonWriter& w, const Address& a) {
  w.beginObject();
  optString(w, "name", a.name);
  optString(w, "address", a.address);
  optString(w, "group", a.group);
  w.endObject();
}

void writeAddressList(JsonWriter& w, std::string_view key, const std::vector<Address>& list) {
  w.key(key).beginArray();
  for (const auto& a : list) writeAddress(w, a);
  w.endArray();
}

void writeStringList(JsonWriter& w, std::string_view key, const std::vector<std::string>& list) {
  w.key(key).beginArray();
  for (const auto& s : list) w.value(s);
  w.endArray();
}

void writePartIdList(JsonWriter& w, const ParsedMessage& m, std::string_view key,
                     const std::vector<uint32_t>& list) {
  w.key(key).beginArray();
  for (uint32_t i : list) w.value(m.parts[i].part_id);
  w.endArray();
}

void partIdOrNull(JsonWriter& w, const ParsedMessage& m, std::string_view key, int64_t i) {
  w.key(key);
  if (i >= 0 && static_cast<size_t>(i) < m.parts.size()) {
    w.value(m.parts[static_cast<size_t>(i)].part_id);
  } else {
    w.null();
  }
}

// A long, already valid UTF-8 text through the fast escaper, after w.key(): raw("") lets
// the writer place its separator, then the escaped text is appended to the same output,
// with no intermediate copy.
void textValue(JsonWriter& w, std::string& out, std::string_view text) {
  w.raw("");
  appendJsonStringUtf8(out, text);
}

std::string_view encodingName(const Part& p) {
  if (!p.transfer_encoding.empty()) return p.transfer_encoding;
  return {};
}

std::string attachmentSha(const ParsedMessage& m, uint32_t part) {
  const Part& p = m.parts[part];
  if (!p.sha256.empty()) return p.sha256;
  std::string bytes;
  decodeBody(m, part, bytes);
  return mx::sha256Hex(bytes);
}

void writeHeaders(JsonWriter& w, const ParsedMessage& m, const JsonContext& ctx) {
  w.key("headers").beginArray();
  std::string value;
  std::string tmp;
  for (uint32_t i = 0; i < m.top_field_count; ++i) {
    const HeaderField& f = m.fields[i];
    w.beginObject();
    if (isValidUtf8(f.name)) {
      w.field("name", f.name);
    } else {
      tmp.clear();
      appendUtf8OrLatin(f.name, tmp);
      w.field("name", tmp);
    }
    if (plainAsciiLine(f.raw_value) && !(mayHaveEncodedWords(f.raw_value) && !keepRaw(f.name))) {
      w.field("value", trimBlanks(f.raw_value));
    } else {
      value.clear();
      if (!keepRaw(f.name) && mayHaveEncodedWords(f.raw_value)) {
        DecodeNotes notes;
        notes.fallback_charset = m.header_charset;
        decodeUnstructured(f.raw_value, value, &notes);
      } else {
        tmp.clear();
        appendUnfolded(f.raw_value, tmp);
        appendHeaderText(tmp, m.header_charset, value);
      }
      w.field("value", value);
    }
    if (ctx.offsets) {
      if (f.offset >= 0) w.field("offset", static_cast<int64_t>(f.offset));
      w.field("length", static_cast<uint64_t>(f.length));
    }
    w.endObject();
  }
  w.endArray();
}

void writeParts(JsonWriter& w, std::string& out, const ParsedMessage& m, const JsonContext& ctx) {
  w.key("parts").beginArray();
  for (size_t i = 0; i < m.parts.size(); ++i) {
    const Part& p = m.parts[i];
    w.beginObject();
    w.field("part_id", p.part_id);
    partIdOrNull(w, m, "parent", p.parent);
    w.field("depth", static_cast<uint64_t>(p.depth));
    w.field("content_type", p.content_type);
    if (p.content_type_raw) w.field("content_type_raw", *p.content_type_raw);
    w.key("params").beginObject();
    for (const auto& prm : p.params) w.field(prm.name, prm.value);
    w.endObject();
    w.key("charset");
    if (p.charset.empty()) {
      w.null();
    } else {
      w.value(p.charset);
    }
    w.field("role", partRoleName(p.role));
    w.key("transfer_encoding");
    if (std::string_view te = encodingName(p); !te.empty()) {
      w.value(te);
    } else {
      w.null();
    }
    optString(w, "disposition", p.disposition);
    optString(w, "filename", p.filename);
    optString(w, "content_id", p.content_id);
    w.key("size");
    if (p.size) {
      w.value(static_cast<uint64_t>(*p.size));
    } else {
      w.null();
    }
    if (p.nested) w.field("nested", true);
    if (ctx.offsets && p.offset >= 0) {
      w.field("offset", static_cast<int64_t>(p.offset));
      w.field("length", static_cast<uint64_t>(p.header_block.size() + p.body.size()));
    }
    // Inline text parts beyond the preferred pair: their text, so nothing is lost.
    const bool extra_text =
        (p.role == PartRole::kBodyText && static_cast<int32_t>(i) != m.text_part) ||
        (p.role == PartRole::kBodyHtml && static_cast<int32_t>(i) != m.html_part);
    if (extra_text) {
      w.key("content");
      textValue(w, out, p.text);
      if (p.text_truncated) w.field("content_truncated", true);
    }
    w.endObject();
  }
  w.endArray();
}

void writeAuth(JsonWriter& w, const ParsedMessage& m) {
  w.key("auth").beginObject();
  w.key("results").beginArray();
  for (const auto& r : m.auth_results) {
    w.beginObject();
    w.field("authserv_id", r.authserv_id);
    w.field("header_index", static_cast<uint64_t>(r.header_index));
    w.field("trusted", r.trusted);
    w.field("method", r.method);
    w.key("method_version");
    if (r.method_version) {
      w.value(static_cast<int64_t>(*r.method_version));
    } else {
      w.null();
    }
    w.field("result", r.result);
    optString(w, "reason", r.reason);
    optString(w, "comment", r.comment);
    w.key("properties").beginObject();
    for (const auto& [k, v] : r.properties) w.field(k, v);
    w.endObject();
    w.endObject();
  }
  w.endArray();
  w.key("summary").beginObject();
  w.field("spf", m.auth_summary.spf);
  w.field("dkim", m.auth_summary.dkim);
  w.field("dmarc", m.auth_summary.dmarc);
  w.field("arc", m.auth_summary.arc);
  w.endObject();
  w.field("source", "headers");
  w.endObject();
}

void writeErrors(JsonWriter& w, const ParsedMessage& m) {
  w.key("errors").beginArray();
  for (const auto& e : m.errors) {
    w.beginObject();
    w.field("code", errorCodeName(e.code));
    w.field("severity", severityName(e.severity));
    partIdOrNull(w, m, "part_id", e.part);
    w.key("field");
    if (e.field.empty()) {
      w.null();
    } else {
      std::string f;
      appendUtf8OrLatin(e.field, f);
      w.value(f);
    }
    w.key("offset");
    if (e.offset >= 0) {
      w.value(static_cast<int64_t>(e.offset));
    } else {
      w.null();
    }
    w.key("detail");
    if (e.detail.empty()) {
      w.null();
    } else {
      std::string d;
      appendUtf8OrLatin(e.detail, d);
      w.value(d);
    }
    w.endObject();
  }
  w.endArray();
}

const std::string* refFor(const JsonContext& ctx, size_t n) {
  if (n < ctx.attachment_refs.size() && !ctx.attachment_refs[n].empty()) {
    return &ctx.attachment_refs[n];
  }
  return nullptr;
}

void writeAttachments(JsonWriter& w, const ParsedMessage& m, const JsonContext& ctx) {
  w.key("attachments").beginArray();
  for (size_t n = 0; n < m.attachments.size(); ++n) {
    const uint32_t i = m.attachments[n];
    const Part& p = m.parts[i];
    w.beginObject();
    w.field("part_id", p.part_id);
    optString(w, "filename", p.filename);
    w.field("content_type", p.content_type);
    optString(w, "disposition", p.disposition);
    optString(w, "content_id", p.content_id);
    w.field("inline", p.role == PartRole::kInline || (p.disposition && *p.disposition == "inline"));
    w.field("nested", p.nested);
    w.field("size", static_cast<uint64_t>(p.size.value_or(0)));
    w.field("sha256", attachmentSha(m, i));
    w.key("ref");
    if (const std::string* r = refFor(ctx, n)) {
      w.value(*r);
    } else {
      w.null();
    }
    w.endObject();
  }
  w.endArray();
}

}  // namespace

void appendJsonStringUtf8(std::string& out, std::string_view s) {
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  const char* p = s.data();
  const char* const end = p + s.size();
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  while (p < end) {
    const char* run = p;
    // Eight bytes at a time while none is a control, '"' or '\\'.
    while (end - p >= 8) {
      uint64_t x;
      std::memcpy(&x, p, 8);
      const uint64_t q = x ^ (kOnes * '"');
      const uint64_t b = x ^ (kOnes * '\\');
      const uint64_t hit = ((x - kOnes * 0x20) & ~x) | ((q - kOnes) & ~q) | ((b - kOnes) & ~b);
      if (hit & kHigh) break;
      p += 8;
    }
    while (p < end) {
      const auto c = static_cast<unsigned char>(*p);
      if (c < 0x20 || c == '"' || c == '\\') break;
      ++p;
    }
    out.append(run, static_cast<size_t>(p - run));
    if (p >= end) break;
    const auto c = static_cast<unsigned char>(*p++);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out.append(esc, 6);
      }
    }
  }
  out += '"';
}

void appendJson(const ParsedMessage& m, const JsonContext& ctx, std::string& out) {
  const size_t start = out.size();
  JsonWriter w(out);
  w.beginObject();
  w.field("schema_version", kSchemaVersion);
  if (ctx.id) w.field("id", *ctx.id);
  if (ctx.received_at) w.field("received_at", *ctx.received_at);
  w.key("envelope");
  if (ctx.envelope_json && !ctx.envelope_json->empty()) {
    w.raw(*ctx.envelope_json);
  } else {
    w.null();
  }

  w.key("raw").beginObject();
  w.field("size", static_cast<uint64_t>(m.raw.size()));
  w.field("sha256", ctx.raw_sha256 ? *ctx.raw_sha256 : mx::sha256Hex(m.raw));
  optString(w, "ref", ctx.raw_ref);
  w.key("line_endings");
  switch (m.line_endings) {
    case LineEndings::kCrlf:
      w.value("crlf");
      break;
    case LineEndings::kLf:
      w.value("lf");
      break;
    case LineEndings::kMixed:
      w.value("mixed");
      break;
    case LineEndings::kNone:
      w.null();
      break;
  }
  w.field("header_size", static_cast<uint64_t>(m.header_size));
  w.endObject();

  writeHeaders(w, m, ctx);
  optString(w, "subject", m.subject);
  writeAddressList(w, "from", m.from);
  w.key("sender");
  if (m.sender) {
    writeAddress(w, *m.sender);
  } else {
    w.null();
  }
  writeAddressList(w, "reply_to", m.reply_to);
  writeAddressList(w, "to", m.to);
  writeAddressList(w, "cc", m.cc);
  writeAddressList(w, "bcc", m.bcc);
  optString(w, "date", m.date);
  optString(w, "date_raw", m.date_raw);
  optString(w, "message_id", m.message_id);
  writeStringList(w, "in_reply_to", m.in_reply_to);
  writeStringList(w, "references", m.references);

  w.key("thread").beginObject();
  optString(w, "root_id", m.thread.root_id);
  optString(w, "parent_id", m.thread.parent_id);
  optString(w, "normalized_subject", m.thread.normalized_subject);
  optString(w, "key", m.thread.key);
  w.endObject();

  w.key("body").beginObject();
  w.key("text");
  if (m.text_part >= 0) {
    textValue(w, out, m.parts[m.text_part].text);
  } else {
    w.null();
  }
  w.key("html");
  if (m.html_part >= 0) {
    textValue(w, out, m.parts[m.html_part].text);
  } else {
    w.null();
  }
  partIdOrNull(w, m, "text_part", m.text_part);
  partIdOrNull(w, m, "html_part", m.html_part);
  writePartIdList(w, m, "text_parts", m.text_parts);
  writePartIdList(w, m, "html_parts", m.html_parts);
  if (m.text_part >= 0 && m.parts[m.text_part].text_truncated) w.field("text_truncated", true);
  if (m.html_part >= 0 && m.parts[m.html_part].text_truncated) w.field("html_truncated", true);
  w.endObject();

  writeAttachments(w, m, ctx);
  writeParts(w, out, m, ctx);
  writeAuth(w, m);
  writeErrors(w, m);
  w.field("truncated", m.truncated);
  w.endObject();
  if (ctx.pretty) {
    std::string pretty = prettyJson(std::string_view(out).substr(start));
    out.resize(start);
    out += pretty;
  }
}

std::string toJson(const ParsedMessage& m, const JsonContext& ctx) {
  std::string out;
  // Text bodies dominate a document; wide messages add roughly 250 bytes per part.
  out.reserve(4096 + m.raw.size() / 2 + m.parts.size() * 256);
  appendJson(m, ctx, out);
  return out;
}

void appendSummaryJson(const ParsedMessage& m, const JsonContext& ctx, std::string& out) {
  JsonWriter w(out);
  w.beginObject();
  optString(w, "subject", m.subject);
  w.key("from");
  if (!m.from.empty()) {
    writeAddress(w, m.from.front());
  } else {
    w.null();
  }
  writeAddressList(w, "to", m.to);
  optString(w, "message_id", m.message_id);
  optString(w, "date", m.date);
  optString(w, "thread_key", m.thread.key);
  w.field("attachment_count", static_cast<uint64_t>(m.attachments.size()));
  w.key("attachments").beginArray();
  for (size_t n = 0; n < m.attachments.size(); ++n) {
    const uint32_t i = m.attachments[n];
    const Part& p = m.parts[i];
    w.beginObject();
    w.field("part_id", p.part_id);
    optString(w, "filename", p.filename);
    w.field("content_type", p.content_type);
    w.field("size", static_cast<uint64_t>(p.size.value_or(0)));
    w.field("sha256", attachmentSha(m, i));
    w.key("ref");
    if (const std::string* r = refFor(ctx, n)) {
      w.value(*r);
    } else {
      w.null();
    }
    w.endObject();
  }
  w.endArray();
  w.key("auth").beginObject();
  w.field("spf", m.auth_summary.spf);
  w.field("dkim", m.auth_summary.dkim);
  w.field("dmarc", m.auth_summary.dmarc);
  w.field("arc", m.auth_summary.arc);
  w.endObject();
  w.field("has_text", m.text_part >= 0);
  w.field("has_html", m.html_part >= 0);
  w.field("error_count", static_cast<uint64_t>(m.errors.size()));
  w.field("truncated", m.truncated);
  w.endObject();
}

std::string summaryJson(const ParsedMessage& m, const JsonContext& ctx) {
  std::string out;
  appendSummaryJson(m, ctx, out);
  return out;
}

std::string prettyJson(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 2);
  int indent = 0;
  bool in_string = false;
  auto newline = [&]() {
    out += '\n';
    out.append(static_cast<size_t>(indent) * 2, ' ');
  };
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < s.size()) {
        out += s[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        out += c;
        break;
      case '{':
      case '[':
        if (i + 1 < s.size() && (s[i + 1] == '}' || s[i + 1] == ']')) {
          out += c;
          out += s[++i];
          break;
        }
        out += c;
        ++indent;
        newline();
        break;
      case '}':
      case ']':
        --indent;
        newline();
        out += c;
        break;
      case ',':
        out += c;
        newline();
        break;
      case ':':
        out += ": ";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace mx::mime

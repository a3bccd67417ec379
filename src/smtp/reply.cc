// smtp/reply.cc — the reply table (see reply.h). One place maps each situation to code,
// enhanced code and text; docs/smtp.md carries the same table for operators.
// Trust: constant data; isAcceptableReplyLine() takes driver-supplied text.
#include "smtp/reply.h"

#include <array>

#include "smtp/ascii.h"

namespace mx::smtp {
namespace {

constexpr size_t kReplyCount = static_cast<size_t>(ReplyId::kCount_);

struct Entry {
  ReplyId id;
  ReplySpec spec;
};

// clang-format off
constexpr Entry kEntries[] = {
  {ReplyId::kOk,                 {250, "2.0.0", "Ok", false, false}},
  {ReplyId::kMailOk,             {250, "2.1.0", "Ok", false, false}},
  {ReplyId::kRcptOk,             {250, "2.1.5", "Ok", false, false}},
  {ReplyId::kQueued,             {250, "2.0.0", "Ok: queued as ", false, false}},
  {ReplyId::kChunkReceived,      {250, "2.0.0", "", false, false}},  // detail: "<n> octets received"
  {ReplyId::kStartData,          {354, "", "End data with <CR><LF>.<CR><LF>", false, false}},
  {ReplyId::kBye,                {221, "2.0.0", "Bye", false, false}},
  // RFC 5321 3.5.3: 252 when the server will not verify but will attempt delivery.
  {ReplyId::kCannotVrfy,         {252, "2.0.0", "Cannot VRFY user, but will accept message and attempt delivery", false, false}},
  {ReplyId::kHelp,               {214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH", false, false}},
  {ReplyId::kReadyToStartTls,    {220, "2.0.0", "Ready to start TLS", false, false}},
  {ReplyId::kAuthSucceeded,      {235, "2.7.0", "Authentication successful", false, false}},
  {ReplyId::kForbiddenCommand,   {221, "2.7.0", "Error: this is an SMTP server, goodbye", false, false}},
  {ReplyId::kTimeout,            {421, "4.4.2", "Error: timeout exceeded", true, false}},
  {ReplyId::kShuttingDown,       {421, "4.3.2", "Service shutting down", true, false}},
  {ReplyId::kTooManyErrors,      {421, "4.7.0", "Error: too many errors", true, false}},
  {ReplyId::kTooManyMessages,    {421, "4.7.0", "Error: too many messages in this session", true, false}},
  {ReplyId::kBdatLostSync,       {421, "4.5.2", "Error: invalid BDAT chunk size", true, false}},
  {ReplyId::kTooManyConnections, {421, "4.7.0", "Error: too many connections, try again later", true, false}},
  {ReplyId::kTooManyConnectionsFromIp, {421, "4.7.0", "Error: too many connections from your address, try again later", true, false}},
  // 4xx replies caused by this side (limits, backends) are not the client's errors.
  // RFC 5321 4.5.3.1.10 and RFC 3463 X.5.3: the client retries the rest later.
  {ReplyId::kTooManyRecipients,  {452, "4.5.3", "Error: too many recipients", false, false}},
  {ReplyId::kRecipientTempFail,  {450, "4.2.0", "Recipient address temporarily rejected, try again later", false, false}},
  {ReplyId::kCommitTempFail,     {451, "4.3.0", "Error: queue file write error", false, false}},
  {ReplyId::kAuthTempFail,       {454, "4.7.0", "Temporary authentication failure", false, false}},
  // One spool record belongs to one tenant: RFC 5321 4.5.3.1.10 has the client send the
  // deferred recipients in a later transaction.
  {ReplyId::kOtherTenant,        {452, "4.5.3", "Recipients of another domain group: send them in a new transaction", false, false}},
  // Postfix queue_minfree: before the body is sent, so the client keeps the message.
  {ReplyId::kInsufficientStorage,{452, "4.3.1", "Insufficient system storage: try again later", false, false}},
  {ReplyId::kPolicyTempFail,     {451, "4.3.0", "Error: temporary policy failure, try again later", false, false}},
  {ReplyId::kUnrecognized,       {500, "5.5.2", "Error: command not recognized", false, true}},
  {ReplyId::kEmptyCommand,       {500, "5.5.2", "Error: bad syntax", false, true}},
  {ReplyId::kLineTooLong,        {500, "5.5.2", "Error: line too long", false, true}},
  {ReplyId::kSyntax,             {501, "5.5.4", "Syntax: ", false, true}},
  {ReplyId::kNotImplemented,     {502, "5.5.1", "Error: command not implemented", false, true}},
  {ReplyId::kExpnDisabled,       {502, "5.5.1", "Error: EXPN not supported", false, false}},
  {ReplyId::kNeedHelo,           {503, "5.5.1", "Error: send HELO/EHLO first", false, true}},
  {ReplyId::kNestedMail,         {503, "5.5.1", "Error: nested MAIL command", false, true}},
  {ReplyId::kNeedMail,           {503, "5.5.1", "Error: need MAIL command", false, true}},
  {ReplyId::kNeedRcpt,           {503, "5.5.1", "Error: need RCPT command", false, true}},
  // RFC 3030 section 3: DATA after BODY=BINARYMIME gets 503.
  {ReplyId::kBinaryNeedsBdat,    {503, "5.5.1", "Error: BODY=BINARYMIME requires BDAT", false, true}},
  {ReplyId::kDataAfterBdat,      {503, "5.5.1", "Error: transaction already uses BDAT", false, true}},
  {ReplyId::kTlsActive,          {503, "5.5.1", "Error: TLS already active", false, true}},
  {ReplyId::kInTransaction,      {503, "5.5.1", "Error: MAIL transaction in progress", false, true}},
  {ReplyId::kAuthNotEnabled,     {503, "5.5.1", "Error: authentication not enabled", false, true}},
  {ReplyId::kAlreadyAuthenticated,{503, "5.5.1", "Error: already authenticated", false, true}},
  // RFC 2920 section 3.1 / RFC 5321 3.3: DATA with no accepted recipient.
  {ReplyId::kNoValidRecipients,  {554, "5.5.1", "Error: no valid recipients", false, true}},
  {ReplyId::kBadSender,          {501, "5.1.7", "Bad sender address syntax", false, true}},
  {ReplyId::kBadRecipient,       {501, "5.1.3", "Bad recipient address syntax", false, true}},
  // RFC 5321 4.5.3.1.10: "501 Path too long".
  {ReplyId::kSenderTooLong,      {501, "5.1.7", "Error: path too long", false, true}},
  {ReplyId::kRecipientTooLong,   {501, "5.1.3", "Error: path too long", false, true}},
  // RFC 6531 section 3.7.4.1 / RFC 6533: 553 5.6.7.
  {ReplyId::kSenderNonAscii,     {553, "5.6.7", "Error: non-ASCII sender address requires SMTPUTF8", false, true}},
  {ReplyId::kRecipientNonAscii,  {553, "5.6.7", "Error: non-ASCII recipient address requires SMTPUTF8", false, true}},
  {ReplyId::kParamSyntax,        {501, "5.5.4", "Error: bad parameter syntax", false, true}},
  // RFC 5321 4.1.1.11: 555 for an unrecognised or unimplemented parameter.
  {ReplyId::kParamUnknown,       {555, "5.5.4", "Unsupported option: ", false, true}},
  {ReplyId::kParamBadValue,      {501, "5.5.4", "Error: bad value for parameter ", false, true}},
  {ReplyId::kParamDuplicate,     {501, "5.5.4", "Error: duplicate parameter ", false, true}},
  // RFC 1870 section 6.1: 552 for a declared size over the limit; RFC 3463 X.3.4.
  {ReplyId::kSizeExceedsLimit,   {552, "5.3.4", "Error: message size exceeds fixed limit", false, true}},
  {ReplyId::kRecipientPermFail,  {550, "5.1.1", "Recipient address rejected", false, true}},
  {ReplyId::kRelayDenied,        {550, "5.7.1", "Relay access denied", false, false}},
  {ReplyId::kRecipientNeedsDomain,{550, "5.1.3", "Recipient address needs a domain", false, false}},
  {ReplyId::kConnectionRefused,  {554, "5.7.1", "Error: connection refused", false, false}},
  {ReplyId::kHeloRefused,        {550, "5.7.1", "Error: HELO/EHLO name rejected", false, false}},
  {ReplyId::kSenderRefused,      {550, "5.7.1", "Error: sender address rejected", false, false}},
  {ReplyId::kMessageTooBig,      {552, "5.3.4", "Error: message file too big", false, false}},
  {ReplyId::kBareLineEnding,     {554, "5.6.0", "Error: bare <CR> or <LF> in message data", false, false}},
  {ReplyId::kLongLine,           {554, "5.6.0", "Error: message line too long", false, false}},
  {ReplyId::kCommitPermFail,     {554, "5.7.1", "Error: message rejected", false, false}},
  {ReplyId::kMustStartTls,       {530, "5.7.0", "Must issue a STARTTLS command first", false, true}},
  {ReplyId::kAuthRequired,       {530, "5.7.0", "Authentication required", false, true}},
  // RFC 4954 section 6.
  {ReplyId::kEncryptionRequired, {538, "5.7.11", "Encryption required for requested authentication mechanism", false, true}},
  {ReplyId::kUnknownMechanism,   {504, "5.5.4", "Unrecognized authentication type", false, true}},
  {ReplyId::kAuthAborted,        {501, "5.0.0", "Error: authentication aborted", false, true}},
  {ReplyId::kAuthBadBase64,      {501, "5.5.2", "Error: invalid base64 data", false, true}},
  {ReplyId::kAuthMalformed,      {501, "5.5.2", "Error: malformed authentication response", false, true}},
  {ReplyId::kAuthFailed,         {535, "5.7.8", "Error: authentication failed", false, true}},
};
// clang-format on

constexpr std::array<ReplySpec, kReplyCount> makeTable() {
  std::array<ReplySpec, kReplyCount> t{};
  for (const Entry& e : kEntries) t[static_cast<size_t>(e.id)] = e.spec;
  return t;
}

constexpr bool tableComplete() {
  if (std::size(kEntries) != kReplyCount) return false;
  for (size_t i = 0; i < kReplyCount; ++i) {
    if (static_cast<size_t>(kEntries[i].id) != i) return false;
  }
  return true;
}
static_assert(tableComplete(), "reply table must list every ReplyId once, in enum order");

constexpr auto kTable = makeTable();

void appendCode(std::string& out, uint16_t code) {
  out += static_cast<char>('0' + code / 100);
  out += static_cast<char>('0' + code / 10 % 10);
  out += static_cast<char>('0' + code % 10);
}

}  // namespace

const ReplySpec& replySpec(ReplyId id) { return kTable[static_cast<size_t>(id)]; }

void appendReply(std::string& out, ReplyId id, std::string_view host, std::string_view detail) {
  const ReplySpec& s = replySpec(id);
  appendCode(out, s.code);
  out += ' ';
  if (!s.enhanced.empty()) {
    out += s.enhanced;
    out += ' ';
  }
  if (s.with_host) {
    out += host;
    out += ' ';
  }
  out += s.text;
  out += detail;
  out += "\r\n";
}

size_t enhancedCodeLength(std::string_view s) {
  // class "." subject "." detail; class 2/4/5, subject 1*3digit, detail 1*3digit.
  if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return 0;
  size_t i = 2;
  for (int part = 0; part < 2; ++part) {
    const size_t start = i;
    while (i < s.size() && isDigit(s[i]) && i - start < 4) ++i;
    const size_t n = i - start;
    if (n == 0 || n > 3) return 0;
    if (part == 0) {
      if (i >= s.size() || s[i] != '.') return 0;
      ++i;
    }
  }
  return i;
}

bool isAcceptableReplyLine(std::string_view line, char want_class) {
  if (line.size() < 10 || line.size() > 510) return false;
  if (line[0] != want_class || !isDigit(line[1]) || !isDigit(line[2]) || line[3] != ' ') return false;
  const std::string_view rest = line.substr(4);
  const size_t n = enhancedCodeLength(rest);
  if (n == 0 || rest[0] != want_class || n >= rest.size() || rest[n] != ' ') return false;
  for (char c : line) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7E) return false;
  }
  return true;
}

}  // namespace mx::smtp

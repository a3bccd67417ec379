// smtp/session_auth.cc — AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN mechanisms:
// the command's restrictions, the 334 challenge/response exchange (the Sasl state, which
// owns the credentials gathered so far), and the kAsk(kAuth) question with its answer.
//
// Standards: RFC 4954 sections 4 (the exchange, "*" to cancel, 12288-octet lines, AUTH
// ends a pipelined group unless it is one round trip) and 6 (reply codes), RFC 4616
// section 2 (PLAIN), draft-murchison-sasl-login (LOGIN), RFC 3207 / DESIGN.md (plaintext
// mechanisms only over TLS unless the listener allows it).
//
// Trust: responses are untrusted base64 (sasl.h decodes them strictly). Decoded secrets
// live only in the AuthRequest owned by the Sasl or Ask state; its deleter wipes them,
// whichever way the exchange ends. AUTH lines are wiped from the input buffer once read.
#include <optional>
#include <string>

#include "core/assert.h"
#include "smtp/ascii.h"
#include "smtp/sasl.h"
#include "smtp/session_impl.h"

namespace mx::smtp {

using namespace detail;

namespace {

ReplyId promptFor(AuthStep step) {
  switch (step) {
    case AuthStep::kPlainResponse: return ReplyId::kAuthPlainPrompt;
    case AuthStep::kLoginUser: return ReplyId::kAuthUserPrompt;
    case AuthStep::kLoginPassword: return ReplyId::kAuthPasswordPrompt;
  }
  return ReplyId::kAuthPlainPrompt;
}

}  // namespace

void Session::Impl::cmdAuth(std::string_view args) {
  // RFC 4954 section 4 restrictions, in Postfix's order.
  if (!options_.auth_available) {
    reply(ReplyId::kAuthNotEnabled);
    return;
  }
  if (authenticated_) {
    reply(ReplyId::kAlreadyAuthenticated);
    return;
  }
  if (txn_) {
    reply(ReplyId::kInTransaction);
    return;
  }
  const size_t sp = args.find(' ');
  const std::string_view mech = args.substr(0, sp);
  const bool has_ir = sp != std::string_view::npos;
  const std::string_view ir = has_ir ? args.substr(sp + 1) : std::string_view();
  if (mech.empty() || (has_ir && (ir.empty() || ir.find(' ') != std::string_view::npos))) {
    reply(ReplyId::kSyntaxAuth);
    return;
  }
  const bool plain = equalsIgnoreCase(mech, "PLAIN");
  const bool login = equalsIgnoreCase(mech, "LOGIN");
  // RFC 4954 section 4: AUTH ends a pipelined group, except PLAIN with an initial
  // response (one round trip, no security layer).
  if (!(plain && has_ir) && bufferedBytes() > 0) ++stats_.pipelining_violations;
  if (!plain && !login) {
    reply(ReplyId::kUnknownMechanism);
    return;
  }
  if (!tls_active_ && !options_.auth_plaintext_allowed) {
    // RFC 4954 section 6: 538 when the mechanism needs an encrypted channel. (AUTH is
    // then not advertised either; see docs/smtp.md.)
    reply(ReplyId::kEncryptionRequired);
    return;
  }
  AuthPtr auth(new AuthRequest);
  auth->mechanism = plain ? "PLAIN" : "LOGIN";
  if (plain) {
    if (!has_ir) {
      beginAuthStep(AuthStep::kPlainResponse, std::move(auth));
    } else {
      authPlainResponse(ir, std::move(auth));
    }
    return;
  }
  if (!has_ir) {
    beginAuthStep(AuthStep::kLoginUser, std::move(auth));
  } else {
    authLoginUser(ir, std::move(auth));
  }
}

void Session::Impl::beginAuthStep(AuthStep step, AuthPtr auth) {
  reply(promptFor(step));
  Sasl s;
  s.step = step;
  s.auth = std::move(auth);
  enterState(std::move(s), "SASL challenge");
}

// The exchange ends without a question; the credentials so far are dropped (wiped).
void Session::Impl::authFail(ReplyId id) {
  enterState(Command{}, "SASL exchange failed");
  reply(id);
}

void Session::Impl::authPlainResponse(std::string_view b64, AuthPtr auth) {
  std::optional<std::string> decoded = decodeSaslResponse(b64);
  if (!decoded) {
    authFail(ReplyId::kAuthBadBase64);
    return;
  }
  PlainCredentials creds;
  const bool ok = splitPlain(*decoded, creds);
  wipeString(*decoded);
  if (!ok) {
    wipeString(creds.password);
    authFail(ReplyId::kAuthMalformed);
    return;
  }
  auth->authzid = std::move(creds.authzid);
  auth->authcid = std::move(creds.authcid);
  auth->password = std::move(creds.password);
  ask(PolicyStage::kAuth, {}, std::move(auth));
}

void Session::Impl::authLoginUser(std::string_view b64, AuthPtr auth) {
  std::optional<std::string> decoded = decodeSaslResponse(b64);
  if (!decoded) {
    authFail(ReplyId::kAuthBadBase64);
    return;
  }
  if (!isValidLoginField(*decoded)) {
    authFail(ReplyId::kAuthMalformed);
    return;
  }
  auth->authcid = std::move(*decoded);
  beginAuthStep(AuthStep::kLoginPassword, std::move(auth));
}

void Session::Impl::authLoginPassword(std::string_view b64, AuthPtr auth) {
  std::optional<std::string> decoded = decodeSaslResponse(b64);
  if (!decoded) {
    authFail(ReplyId::kAuthBadBase64);
    return;
  }
  if (!isValidLoginField(*decoded)) {
    wipeString(*decoded);
    authFail(ReplyId::kAuthMalformed);
    return;
  }
  auth->password = std::move(*decoded);
  ask(PolicyStage::kAuth, {}, std::move(auth));
}

bool Session::Impl::readAuthResponse() {
  std::string_view line;
  size_t consumed = 0;
  switch (takeLine(line, consumed)) {
    case LineStatus::kNeedMore:
      return false;
    case LineStatus::kHandled:
      return true;
    case LineStatus::kLine:
      break;
  }
  const size_t line_start = in_pos_;
  in_pos_ += consumed;
  wait_since_ = now_;
  Sasl& s = std::get<Sasl>(mode_);
  const AuthStep step = s.step;
  AuthPtr auth = std::move(s.auth);  // the next state takes it, or it is wiped here
  if (line == "*") {
    authFail(ReplyId::kAuthAborted);  // RFC 4954 section 4: the client cancels
  } else {
    switch (step) {
      case AuthStep::kPlainResponse:
        authPlainResponse(line, std::move(auth));
        break;
      case AuthStep::kLoginUser:
        authLoginUser(line, std::move(auth));
        break;
      case AuthStep::kLoginPassword:
        authLoginPassword(line, std::move(auth));
        break;
    }
  }
  wipeBytes(in_.data() + line_start, consumed);
  return true;
}

void Session::Impl::authAnswered(const Verdict& v, Ask& a) {
  if (!v.accepted()) {
    const ReplyId id = refusalOf(v, ReplyId::kAuthFailed);
    // A wrong password (5xx) is the client's failure, logged and counted; a 4xx (the
    // credential backend is down) is ours.
    if (replySpec(id).code / 100 == 5) stats_.auth_failed = true;
    refuseWith(id);
    return;
  }
  authenticated_ = true;
  // The authenticated identity is the one whose password was checked (RFC 4422 section
  // 3.4.1: the authentication identity); an authorization identity is the policy's to
  // allow or refuse, and is not what the session records.
  envelope_.auth_user = a.auth != nullptr ? a.auth->authcid : std::string();
  reply(ReplyId::kAuthSucceeded);
}

}  // namespace mx::smtp

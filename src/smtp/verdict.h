// smtp/verdict.h — the questions the session parks on and the verdicts that answer them
// (DESIGN.md "Seams: asynchronous policy"). A verdict names a reply from the one reply
// table (reply.h): the session never takes reply text from outside, and whether a refusal
// is temporary or permanent is read from the table's code, never from a string.
//
// Standards: RFC 5321 section 4.2 (reply classes: 4yz transient, 5yz permanent),
// RFC 3463 (the enhanced code travels with the basic code).
// Trust: verdicts come from our own policy code; a refusal that names a reply which is not
// 4xx/5xx is a programming error (debug-asserted; the session then uses the stage's
// default refusal: ConnectionRefused, HeloRefused, SenderRefused, RecipientPermFail,
// AuthFailed, CommitPermFail). A refusal naming a 421 entry closes the session after the
// reply (RFC 5321 3.8: 421 announces that the server closes the channel).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "smtp/reply.h"

namespace mx::smtp {

// Where in the session a policy question is asked. Each stage parks the session until
// the driver answers (Session::answer()).
enum class PolicyStage : uint8_t {
  kConnect,   // before the greeting; refusal: the reply, then close (one refuse path)
  kHelo,      // EHLO/HELO argument; refusal: the reply, the session stays without HELO
  kMailFrom,  // MAIL FROM reverse-path (+ parameters, in the pending envelope)
  kRcptTo,    // RCPT TO forward-path; accept carries the recipient's tenant
  kAuth,      // SASL credentials (pendingAuth()); accept: authenticated as the authcid
};
inline constexpr size_t kPolicyStageCount = 5;
std::string_view policyStageName(PolicyStage s);  // "connect", "helo", "mail", "rcpt", "auth"

class Verdict {
 public:
  // Accepted with the stage's normal reply (220 greeting, 250 HELO, 250 2.1.0, 250 2.1.5,
  // 235 2.7.0; for a commit kQueued).
  static Verdict accept() { return Verdict(true, ReplyId::kCount_, {}); }
  // RCPT accepted for `tenant` (the first accepted recipient's tenant becomes the
  // envelope's tenant).
  static Verdict acceptRecipient(std::string tenant) {
    return Verdict(true, ReplyId::kCount_, std::move(tenant));
  }
  // Refused with `reply`, a 4xx (try again later) or 5xx (do not) entry of the table.
  static Verdict refuse(ReplyId reply) { return Verdict(false, reply, {}); }

  bool accepted() const { return accepted_; }
  // The refusal's reply; kCount_ when accepted.
  ReplyId reply() const { return reply_; }
  // A refusal whose reply is 4xx: the client should try again later.
  bool transient() const { return !accepted_ && isRefusal(reply_) && replySpec(reply_).code / 100 == 4; }
  const std::string& tenant() const { return tenant_; }

 private:
  Verdict(bool accepted, ReplyId reply, std::string tenant)
      : accepted_(accepted), reply_(reply), tenant_(std::move(tenant)) {}
  bool accepted_;
  ReplyId reply_;
  std::string tenant_;
};

}  // namespace mx::smtp

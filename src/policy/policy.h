// policy/policy.h — the one interface every policy question goes through (DESIGN.md
// "Seams: asynchronous policy"): at connect, HELO, MAIL, RCPT, AUTH and end of data the
// connection driver asks, the session stays parked, and the answer — a smtp::Verdict that
// names a reply of the reply table — arrives later. A local answer may come at once; a
// lookup (Redis rate limits, an HTTP recipient check, a password hash on a worker thread)
// answers from another thread, and the driver resumes the session on its own event loop
// (post-and-resume). The driver never blocks on a policy.
//
// Standards: RFC 5321 section 4.2 (4yz: try later, 5yz: do not), RFC 3463.
// Trust: queries carry client bytes (HELO, addresses, credentials) and connection facts
// the driver established (client address after PROXY, TLS); implementations treat the
// former as untrusted and never log credentials.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "core/clock.h"
#include "core/envelope.h"
#include "smtp/session.h"
#include "smtp/verdict.h"

namespace mx::policy {

// Where the question is asked. The SMTP stages are the session's parking points; end of
// data is asked by the driver when the body is complete, before the commit.
enum class Stage : uint8_t { kConnect, kHelo, kMailFrom, kRcptTo, kAuth, kEndOfData };
std::string_view stageName(Stage s);
Stage stageOf(smtp::PolicyStage s);

struct Query {
  Stage stage;
  // The envelope so far: connection fields always; HELO after kHelo; the MAIL parameters
  // from kMailFrom; accepted recipients and the tenant from kRcptTo on.
  const Envelope& envelope;
  // kHelo: the name; kMailFrom: the reverse-path (empty for <>); kRcptTo: the
  // forward-path; empty otherwise.
  std::string_view argument;
  const smtp::AuthRequest* auth = nullptr;  // kAuth only
  uint64_t message_size = 0;                // kEndOfData: octets received
  MonoTime now{};
};

// Called exactly once per check(), with the verdict; may run before check() returns or
// later on any thread. Must not throw.
using VerdictCallback = std::function<void(smtp::Verdict)>;

class Policy {
 public:
  virtual ~Policy() = default;
  // Asks one question. The Query and what it refers to are valid only during this call:
  // an implementation that answers later copies what it needs. The caller marshals the
  // answer to its own thread, and may stop waiting (its own timeout answers
  // kPolicyTempFail); a late answer is then dropped, so `done` must not own anything the
  // implementation still needs. An implementation that cannot decide (its backend is down)
  // answers refuse(kPolicyTempFail) or the stage's own temporary reply — it never accepts
  // by default what it could not check.
  virtual void check(const Query& query, VerdictCallback done) = 0;
};
using PolicyPtr = std::shared_ptr<Policy>;

}  // namespace mx::policy

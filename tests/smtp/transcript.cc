// tests/smtp/transcript.cc — see transcript.h.
// Trust: test data; every malformed line is reported with its line number.
#include "tests/smtp/transcript.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "fuzz/smtp/session_checker.h"

namespace mx::smtp::testing {
namespace {

bool startsWith(const std::string& s, std::string_view p) { return s.compare(0, p.size(), p) == 0; }

std::string trim(const std::string& s) {
  size_t a = 0;
  size_t b = s.size();
  while (a < b && (s[a] == ' ' || s[a] == '\t')) ++a;
  while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\r')) --b;
  return s.substr(a, b - a);
}

// Splits "word rest..." into the first word and the (trimmed) rest.
std::pair<std::string, std::string> splitWord(const std::string& s) {
  const size_t sp = s.find(' ');
  if (sp == std::string::npos) return {s, ""};
  return {s.substr(0, sp), trim(s.substr(sp + 1))};
}

bool parseBool(const std::string& v, bool& out) {
  if (v == "true" || v == "1" || v == "yes") {
    out = true;
    return true;
  }
  if (v == "false" || v == "0" || v == "no") {
    out = false;
    return true;
  }
  return false;
}

bool setOption(SessionOptions& o, const std::string& key, const std::string& value) {
  auto num = [&](auto& field) {
    try {
      field = static_cast<std::remove_reference_t<decltype(field)>>(std::stoull(value));
      return true;
    } catch (...) {
      return false;
    }
  };
  if (key == "hostname") {
    o.hostname = value;
    return true;
  }
  if (key == "max_message_size") return num(o.max_message_size);
  if (key == "max_recipients") return num(o.max_recipients);
  if (key == "max_errors") return num(o.max_errors);
  if (key == "max_messages") return num(o.max_messages);
  if (key == "max_line_length") return num(o.max_line_length);
  if (key == "max_junk_commands") return num(o.max_junk_commands);
  if (key == "starttls_available") return parseBool(value, o.starttls_available);
  if (key == "tls_active") return parseBool(value, o.tls_active);
  if (key == "require_tls") return parseBool(value, o.require_tls);
  if (key == "auth_available") return parseBool(value, o.auth_available);
  if (key == "auth_plaintext_allowed") return parseBool(value, o.auth_plaintext_allowed);
  if (key == "auth_required") return parseBool(value, o.auth_required);
  if (key == "chunking") return parseBool(value, o.chunking);
  if (key == "smtputf8") return parseBool(value, o.smtputf8);
  Millis* timeout = key == "command_timeout"    ? &o.command_timeout
                    : key == "data_timeout"     ? &o.data_timeout
                    : key == "greeting_timeout" ? &o.greeting_timeout
                    : key == "idle_timeout"     ? &o.idle_timeout
                                                : nullptr;
  if (timeout != nullptr) {
    uint64_t ms = 0;
    if (!num(ms)) return false;
    *timeout = Millis(ms);
    return true;
  }
  return false;
}

constexpr const char* kDefaultMessageId = "01HQZ8X9J5V4K2M3N6P7R8S9T0";

std::string envelopeSummary(const Envelope& e) {
  std::string s = "helo=" + e.helo + " from=<" + e.mail_from + "> to=";
  for (size_t i = 0; i < e.rcpt_to.size(); ++i) {
    if (i > 0) s += ',';
    s += '<' + e.rcpt_to[i] + '>';
  }
  if (!e.tenant.empty()) s += " tenant=" + e.tenant;
  // A transaction for several tenants: each recipient's, in RCPT order.
  if (std::any_of(e.rcpt_tenants.begin(), e.rcpt_tenants.end(), [&e](const std::string& t) { return t != e.tenant; })) {
    s += " rcpt-tenants=";
    for (size_t i = 0; i < e.rcpt_tenants.size(); ++i) s += (i > 0 ? "," : "") + e.rcpt_tenants[i];
  }
  if (!e.esmtp) s += " helo-only";
  if (e.declared_size != 0) s += " size=" + std::to_string(e.declared_size);
  if (e.body == BodyType::kEightBitMime) s += " body=8bitmime";
  if (e.body == BodyType::kBinaryMime) s += " body=binarymime";
  if (e.smtputf8) s += " smtputf8";
  if (e.chunked) s += " chunked";
  if (!e.auth_user.empty()) s += " auth=" + e.auth_user;
  if (e.tls()) s += " tls";
  return s;
}

// "ask <stage> <argument>": paths in brackets (as the client sent them), the HELO name as
// is, the AUTH request escaped.
std::string askSummary(const Session& s) {
  const PolicyStage stage = s.pendingStage();
  std::string out = "ask " + std::string(policyStageName(stage));
  switch (stage) {
    case PolicyStage::kConnect:
      break;
    case PolicyStage::kHelo:
      out += " " + s.pendingArgument();
      break;
    case PolicyStage::kMailFrom:
    case PolicyStage::kRcptTo:
      out += " <" + s.pendingArgument() + ">";
      break;
    case PolicyStage::kAuth: {
      const AuthRequest& r = s.pendingAuth();
      out += " " + r.mechanism + " " + escape(r.authzid) + " " + escape(r.authcid) + " " + escape(r.password);
      break;
    }
  }
  return out;
}

bool stageFromName(std::string_view name, PolicyStage& out) {
  for (size_t i = 0; i < kPolicyStageCount; ++i) {
    const auto st = static_cast<PolicyStage>(i);
    if (policyStageName(st) == name) {
      out = st;
      return true;
    }
  }
  return false;
}

// The short refusal words of the old format, per stage.
ReplyId defaultRefusal(const std::string& word, bool commit, PolicyStage stage) {
  if (commit) {
    if (word == "temp") return ReplyId::kCommitTempFail;
    if (word == "perm") return ReplyId::kCommitPermFail;
    return ReplyId::kCount_;
  }
  if (stage == PolicyStage::kRcptTo) {
    if (word == "reject") return ReplyId::kRecipientPermFail;
    if (word == "temp") return ReplyId::kRecipientTempFail;
  }
  if (stage == PolicyStage::kAuth) {
    if (word == "fail") return ReplyId::kAuthFailed;
    if (word == "temp") return ReplyId::kAuthTempFail;
  }
  return ReplyId::kCount_;
}

class Runner {
 public:
  Runner(const Transcript& t, size_t chunk, const PolicyHook* hook)
      : t_(t),
        chunk_(chunk),
        hook_(hook),
        now_(std::chrono::seconds(1000)),
        session_(t.options, now_),
        checker_(t.options) {}

  RunResult run() {
    // As the driver does: the connection fields are the driver's.
    if (t_.options.tls_active) setTls();
    if (t_.shutdown_before_start) session_.shutdown(now_);
    session_.start(now_);
    drain(CallKind::kOther);
    for (const Step& s : t_.steps) {
      if (!result_.error.empty()) break;
      switch (s.kind) {
        case Step::Kind::kSend:
          pending_.append(s.bytes);
          break;
        case Step::Kind::kAnswer:
          answers_.push_back(s.answer);
          answerPending();
          break;
        default:
          feed();
          sync(s);
          break;
      }
    }
    if (result_.error.empty()) feed();
    if (result_.error.empty() && next_answer_ < answers_.size()) {
      result_.error = "unused driver answer(s) at the end of the transcript";
    }
    return std::move(result_);
  }

 private:
  void setTls() {
    session_.envelope().tls_version = "TLSv1.3";
    session_.envelope().tls_cipher = "TLS_AES_128_GCM_SHA256";
  }

  void fail(const std::string& e) {
    if (result_.error.empty()) result_.error = e;
  }

  void feed() {
    const std::string bytes = std::move(pending_);
    pending_.clear();
    const size_t step = chunk_ == 0 ? std::max<size_t>(bytes.size(), 1) : chunk_;
    for (size_t off = 0; off < bytes.size() && result_.error.empty(); off += step) {
      session_.receive(std::string_view(bytes).substr(off, step), now_);
      drain(CallKind::kReceive);
    }
  }

  void sync(const Step& s) {
    switch (s.kind) {
      case Step::Kind::kTls:
        if (parked_ != ActionKind::kStartTls) {
          fail("@tls without a pending kStartTls");
          return;
        }
        parked_.reset();
        if (s.ok) setTls();
        session_.tlsDone(s.ok, now_);
        drain(CallKind::kAnswer);
        break;
      case Step::Kind::kTimeout: {
        const MonoTime d = session_.deadline();
        if (d == MonoTime::max()) {
          fail("@timeout with no deadline armed");
          return;
        }
        now_ = d;
        session_.onTimer(now_);
        drain(CallKind::kOther);
        break;
      }
      case Step::Kind::kTimer:
        session_.onTimer(now_);
        drain(CallKind::kOther);
        break;
      case Step::Kind::kAdvance:
        now_ += Millis(s.ms);
        break;
      case Step::Kind::kDeadline: {
        const MonoTime d = session_.deadline();
        const bool ok = s.ms < 0 ? d == MonoTime::max()
                                 : (d != MonoTime::max() && d - now_ == Millis(s.ms));
        if (!ok) {
          fail("@deadline " + std::to_string(s.ms) + " but deadline is " +
               (d == MonoTime::max()
                    ? std::string("none")
                    : std::to_string(std::chrono::duration_cast<Millis>(d - now_).count())));
        }
        break;
      }
      case Step::Kind::kExpectBuffered:
        if (session_.bufferedBytes() != static_cast<size_t>(s.ms)) {
          fail("@buffered " + std::to_string(s.ms) + " but " +
               std::to_string(session_.bufferedBytes()) + " are buffered");
        }
        break;
      case Step::Kind::kEof:
        session_.peerClosed(now_);
        drain(CallKind::kOther);
        break;
      case Step::Kind::kShutdown:
        session_.shutdown(now_);
        drain(CallKind::kOther);
        break;
      default:
        break;
    }
  }

  void record(Event::Kind kind, std::string text, std::string bytes = {}) {
    result_.events.push_back(Event{kind, std::move(text), std::move(bytes)});
  }

  // Records the session's actions; a parking action is answered from the queue.
  void drain(CallKind call) {
    while (result_.error.empty()) {
      const std::vector<Action>& actions = session_.actions();
      std::string e = checker_.check(actions, call, session_);
      if (!e.empty()) {
        fail("invariant: " + e);
        return;
      }
      for (const Action& a : actions) {
        switch (a.kind) {
          case ActionKind::kReply: {
            size_t pos = 0;
            while (pos < a.data.size()) {
              const size_t crlf = a.data.find("\r\n", pos);
              record(Event::Kind::kReply, std::string(a.data.substr(pos, crlf - pos)));
              pos = crlf + 2;
            }
            break;
          }
          case ActionKind::kBodyData:
            body_octets_ += a.data.size();
            if (!result_.events.empty() && result_.events.back().text == "body") {
              result_.events.back().bytes.append(a.data);
            } else {
              record(Event::Kind::kAction, "body", std::string(a.data));
            }
            break;
          case ActionKind::kMessageBegin:
            body_octets_ = 0;
            record(Event::Kind::kAction, "begin");
            if (t_.check_envelope) record(Event::Kind::kEnvelope, envelopeSummary(session_.envelope()));
            break;
          case ActionKind::kMessageEnd:
            record(Event::Kind::kAction, "end");
            parked_ = ActionKind::kMessageEnd;
            break;
          case ActionKind::kMessageAbort:
            record(Event::Kind::kAction, "abort");
            break;
          case ActionKind::kStartTls:
            record(Event::Kind::kAction, "starttls");
            parked_ = ActionKind::kStartTls;
            break;
          case ActionKind::kAsk:
            if (session_.pendingStage() != a.stage) {
              fail("kAsk stage differs from pendingStage()");
              return;
            }
            if (t_.shown[static_cast<size_t>(a.stage)]) record(Event::Kind::kAction, askSummary(session_));
            parked_ = ActionKind::kAsk;
            parked_stage_ = a.stage;
            break;
          case ActionKind::kClose:
            record(Event::Kind::kAction, "close");
            break;
        }
      }
      session_.clearActions();
      if (!answerOne()) return;
      call = CallKind::kAnswer;
    }
  }

  // Answers the pending park: from the queue for scripted stages (false when no answer is
  // available yet: a deferred answer), automatically with "accept" for the others.
  bool answerOne() {
    if (!parked_ || *parked_ == ActionKind::kStartTls) return false;
    const bool commit = *parked_ == ActionKind::kMessageEnd;
    const bool scripted = commit ? t_.commit_scripted : t_.scripted[static_cast<size_t>(parked_stage_)];
    Answer a;
    if (scripted) {
      if (next_answer_ >= answers_.size()) return false;
      a = answers_[next_answer_];
      if ((a.kind == Answer::Kind::kCommit) != commit || (!commit && a.stage != parked_stage_)) {
        fail("the next driver answer does not match the pending action");
        return false;
      }
      ++next_answer_;
    } else {
      a.kind = commit ? Answer::Kind::kCommit : Answer::Kind::kStage;
      a.stage = parked_stage_;
      // A suite's real policy decides instead of the automatic accept.
      if (hook_ != nullptr) {
        const Verdict v = commit ? (hook_->end_of_data ? hook_->end_of_data(session_, body_octets_) : Verdict::accept())
                                 : hook_->ask(session_, parked_stage_);
        a.accept = v.accepted();
        a.refusal = v.reply();
        a.text = v.tenant();
      }
    }
    parked_.reset();
    const Verdict v = !a.accept                            ? Verdict::refuse(a.refusal)
                      : a.stage == PolicyStage::kRcptTo ? Verdict::acceptRecipient(a.text)
                                                           : Verdict::accept();
    if (commit) {
      CommitResult r;
      r.verdict = a.accept ? Verdict::accept() : Verdict::refuse(a.refusal);
      if (a.accept) r.id = *MessageId::parse(a.text.empty() ? kDefaultMessageId : a.text);
      session_.commitDone(r, now_);
      return true;
    }
    const bool was_auth = a.stage == PolicyStage::kAuth;
    session_.answer(v, now_);
    if (was_auth) {
      // Unless pipelined input already started a new exchange, nothing may be kept.
      bool new_exchange = false;
      for (const Action& x : session_.actions()) {
        new_exchange |= x.kind == ActionKind::kAsk && x.stage == PolicyStage::kAuth;
      }
      if (!new_exchange && !session_.pendingAuth().password.empty()) fail("password kept after answer()");
    }
    return true;
  }

  void answerPending() {
    if (!parked_) return;
    drain(CallKind::kAnswer);
  }

  const Transcript& t_;
  size_t chunk_;
  const PolicyHook* hook_;
  uint64_t body_octets_ = 0;
  MonoTime now_;
  Session session_;
  SessionChecker checker_;
  RunResult result_;
  std::string pending_;
  std::vector<Answer> answers_;
  size_t next_answer_ = 0;
  std::optional<ActionKind> parked_;
  PolicyStage parked_stage_ = PolicyStage::kConnect;
};

}  // namespace

std::string Event::render() const {
  switch (kind) {
    case Kind::kReply:
      return "S: " + text;
    case Kind::kEnvelope:
      return "E: " + text;
    case Kind::kAction:
      return text == "body" ? "A: body " + escape(bytes) : "A: " + text;
  }
  return "?";
}

std::string expandRepeats(const std::string& s, std::string& error) {
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t open = s.find("{{", pos);
    if (open == std::string::npos) {
      out.append(s, pos, std::string::npos);
      return out;
    }
    const size_t close = s.find("}}", open);
    const size_t star = s.find('*', open);
    if (close == std::string::npos || star == std::string::npos || star > close) {
      error = "bad {{N*text}}";
      return {};
    }
    out.append(s, pos, open - pos);
    size_t n = 0;
    try {
      n = std::stoul(s.substr(open + 2, star - open - 2));
    } catch (...) {
      error = "bad repeat count";
      return {};
    }
    const std::string unit = s.substr(star + 1, close - star - 1);
    for (size_t i = 0; i < n; ++i) out += unit;
    pos = close + 2;
  }
}

std::string unescape(const std::string& s, std::string& error) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (++i >= s.size()) {
      error = "dangling backslash";
      return {};
    }
    switch (s[i]) {
      case 'r': out += '\r'; break;
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case '0': out += '\0'; break;
      case '\\': out += '\\'; break;
      case 'x': {
        if (i + 2 >= s.size()) {
          error = "short \\x escape";
          return {};
        }
        try {
          out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
        } catch (...) {
          error = "bad \\x escape";
          return {};
        }
        i += 2;
        break;
      }
      default:
        error = std::string("unknown escape \\") + s[i];
        return {};
    }
  }
  return out;
}

std::string escape(std::string_view bytes) {
  std::string out;
  for (char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '\r': out += "\\r"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\\': out += "\\\\"; break;
      default:
        if (u < 0x20 || u == 0x7F) {
          char buf[5];
          std::snprintf(buf, sizeof buf, "\\x%02x", u);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::optional<Transcript> parseTranscript(const std::string& name, const std::string& text,
                                          std::string& error) {
  Transcript t;
  t.name = name;
  std::istringstream in(text);
  std::string raw;
  int lineno = 0;
  auto bad = [&](const std::string& why) {
    error = name + ":" + std::to_string(lineno) + ": " + why;
    return std::nullopt;
  };
  while (std::getline(in, raw)) {
    ++lineno;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    if (raw.empty() || raw[0] == '#') continue;
    std::string err;
    auto payload = [&](size_t prefix) {
      std::string v = expandRepeats(raw.substr(prefix), err);
      return v;
    };
    if (startsWith(raw, "C: ") || raw == "C:" || startsWith(raw, "R: ")) {
      const bool crlf = raw[0] == 'C';
      std::string v = raw.size() > 3 ? unescape(payload(3), err) : std::string();
      if (!err.empty()) return bad(err);
      if (crlf) v += "\r\n";
      t.steps.push_back(Step{Step::Kind::kSend, v, {}, true, 0});
      continue;
    }
    if (startsWith(raw, "S: ")) {
      std::string v = payload(3);
      if (!err.empty()) return bad(err);
      t.expected.push_back(Event{Event::Kind::kReply, v, {}});
      continue;
    }
    if (startsWith(raw, "E: ")) {
      std::string v = payload(3);
      if (!err.empty()) return bad(err);
      t.expected.push_back(Event{Event::Kind::kEnvelope, v, {}});
      t.check_envelope = true;
      continue;
    }
    if (startsWith(raw, "A: ")) {
      std::string v = payload(3);
      if (!err.empty()) return bad(err);
      if (startsWith(v, "body ")) {
        std::string bytes = unescape(v.substr(5), err);
        if (!err.empty()) return bad(err);
        t.expected.push_back(Event{Event::Kind::kAction, "body", bytes});
      } else if (startsWith(v, "ask ")) {
        PolicyStage st;
        if (!stageFromName(splitWord(v.substr(4)).first, st)) return bad("A: ask <stage> ...: unknown stage");
        t.shown[static_cast<size_t>(st)] = true;
        t.expected.push_back(Event{Event::Kind::kAction, v, {}});
      } else if (v == "begin" || v == "end" || v == "abort" || v == "starttls" || v == "close") {
        t.expected.push_back(Event{Event::Kind::kAction, v, {}});
      } else {
        return bad("unknown action " + v);
      }
      continue;
    }
    if (raw[0] != '@') return bad("unknown line");
    const auto [directive, rest] = splitWord(raw.substr(1));
    if (directive == "option") {
      const auto [key, value] = splitWord(rest);
      if (!setOption(t.options, key, value)) return bad("bad option " + key);
    } else if (directive == "shutdown-before-start") {
      t.shutdown_before_start = true;
    } else if (directive == "fixture") {
      t.fixture = rest;
    } else if (directive == "max-chunk") {
      t.max_chunk = std::stoul(rest);
    } else if (PolicyStage st = PolicyStage::kConnect; directive == "commit" || stageFromName(directive, st)) {
      Answer a;
      const bool commit = directive == "commit";
      a.kind = commit ? Answer::Kind::kCommit : Answer::Kind::kStage;
      a.stage = commit ? PolicyStage::kConnect : st;
      const auto [word, arg] = splitWord(rest);
      if (word == "accept" || word == "ok") {
        a.accept = true;
        a.text = arg;
        if (!arg.empty() && !(commit || a.stage == PolicyStage::kRcptTo)) return bad("only rcpt (tenant) and commit (id) take an accept argument");
        if (commit && !arg.empty() && !MessageId::parse(arg)) return bad("bad message id");
      } else {
        a.accept = false;
        if (word == "refuse") {
          a.refusal = replyIdFromName(arg);
          if (a.refusal == ReplyId::kCount_) return bad("unknown reply id " + arg);
        } else {
          if (!arg.empty()) return bad("@" + directive + " " + word + " takes no argument; use refuse <ReplyId>");
          a.refusal = defaultRefusal(word, commit, a.stage);
          if (a.refusal == ReplyId::kCount_) return bad("bad verdict " + word);
        }
        if (!isRefusal(a.refusal)) return bad("a refusal must name a 4xx/5xx reply");
      }
      if (commit) {
        t.commit_scripted = true;
      } else {
        t.scripted[static_cast<size_t>(a.stage)] = true;
      }
      t.steps.push_back(Step{Step::Kind::kAnswer, {}, a, true, 0});
    } else if (directive == "tls") {
      if (rest != "ok" && rest != "fail") return bad("@tls ok|fail");
      t.steps.push_back(Step{Step::Kind::kTls, {}, {}, rest == "ok", 0});
    } else if (directive == "timeout") {
      t.steps.push_back(Step{Step::Kind::kTimeout, {}, {}, true, 0});
    } else if (directive == "timer") {
      t.steps.push_back(Step{Step::Kind::kTimer, {}, {}, true, 0});
    } else if (directive == "advance") {
      t.steps.push_back(Step{Step::Kind::kAdvance, {}, {}, true, std::stoll(rest)});
    } else if (directive == "deadline") {
      t.steps.push_back(Step{Step::Kind::kDeadline, {}, {}, true, rest == "none" ? -1 : std::stoll(rest)});
    } else if (directive == "buffered") {
      t.steps.push_back(Step{Step::Kind::kExpectBuffered, {}, {}, true, std::stoll(rest)});
    } else if (directive == "eof") {
      t.steps.push_back(Step{Step::Kind::kEof, {}, {}, true, 0});
    } else if (directive == "shutdown") {
      t.steps.push_back(Step{Step::Kind::kShutdown, {}, {}, true, 0});
    } else if (directive == "sync") {
      t.steps.push_back(Step{Step::Kind::kSync, {}, {}, true, 0});
    } else {
      return bad("unknown directive @" + directive);
    }
  }
  return t;
}

RunResult runTranscript(const Transcript& t, size_t chunk, const PolicyHook* hook) {
  return Runner(t, chunk, hook).run();
}

size_t longestSendRun(const Transcript& t) {
  size_t longest = 0;
  size_t run = 0;
  for (const Step& s : t.steps) {
    if (s.kind == Step::Kind::kSend) {
      run += s.bytes.size();
    } else if (s.kind != Step::Kind::kAnswer) {
      longest = std::max(longest, run);
      run = 0;
    }
  }
  return std::max(longest, run);
}

std::vector<std::string> transcriptNamesIn(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".txt") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string readTranscriptFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace mx::smtp::testing

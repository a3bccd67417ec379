// tests/smtp/transcript.h — parser and runner for the SMTP session transcripts in
// tests/smtp/transcripts/*.txt (format: tests/smtp/transcripts/README.md).
//
// A transcript is client bytes, expected session output (reply lines and actions), and
// the driver's answers. run() replays it against a fresh smtp::Session with the client
// bytes cut into chunks of a given size (nghttp2's scripted_data_feed), answering parking
// actions from the transcript (policy questions of unscripted stages are accepted
// automatically), and returns the observed output, so the same transcript can be checked
// at every chunk size. The runner plays the driver: it also sets the envelope's TLS fields
// when TLS is on, as src/server does.
//
// Trust: transcripts are test data written by us; malformed ones fail the test loudly.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "smtp/session.h"

namespace mx::smtp::testing {

// One observed or expected output item.
struct Event {
  enum class Kind { kReply, kAction, kEnvelope };
  Kind kind;
  std::string text;   // reply line (no CRLF), action name, or envelope summary
  std::string bytes;  // for the "body" action: the concatenated body octets

  bool operator==(const Event&) const = default;
  std::string render() const;  // "S: ...", "A: body <escaped>", "E: ..."
};

// A scripted driver answer: to a kAsk at `stage`, or to kMessageEnd (commit).
struct Answer {
  enum class Kind { kStage, kCommit };
  Kind kind = Kind::kStage;
  PolicyStage stage = PolicyStage::kConnect;
  bool accept = true;
  ReplyId refusal = ReplyId::kCount_;  // when !accept: a 4xx/5xx entry of the reply table
  std::string text;                    // tenant (rcpt accept) or message id (commit accept)
};

// A step of the script, in file order.
struct Step {
  enum class Kind {
    kSend,       // client bytes
    kAnswer,     // a queued driver answer
    kTls,        // sync: tlsDone(ok)
    kTimeout,    // sync: jump to deadline() and call onTimer()
    kTimer,      // sync: onTimer(now)
    kAdvance,    // sync: now += ms
    kDeadline,   // sync: expect deadline() == now + ms (ms < 0: MonoTime::max())
    kEof,        // sync: peerClosed()
    kShutdown,   // sync: shutdown()
    kSync,       // sync: just feed what was sent so far
    kExpectBuffered,  // sync: expect bufferedBytes() == ms
  };
  Kind kind;
  std::string bytes;
  Answer answer;
  bool ok = true;
  int64_t ms = 0;
};

struct Transcript {
  std::string name;
  SessionOptions options;
  bool shutdown_before_start = false; // @shutdown-before-start
  // Stages whose kAsk is recorded ("A: ask <stage> ..." lines in the file) and stages (and
  // the commit) whose answers the file scripts (@<stage> lines); the others are accepted
  // automatically without showing up in the output.
  bool shown[kPolicyStageCount] = {};
  bool scripted[kPolicyStageCount] = {};
  bool commit_scripted = false;
  std::vector<Step> steps;
  std::vector<Event> expected;
  bool check_envelope = false;        // the file has E: lines
  size_t max_chunk = 0;               // @max-chunk (0: all sizes)
  std::string fixture;                // @fixture NAME: set-up chosen by the suite that runs it
};

// Answers, instead of the automatic "accept", the questions a file does not script: a suite
// that runs a real policy (tests/policy) plugs it in here. Both are called synchronously
// and must answer at once.
struct PolicyHook {
  // A kAsk of the session at `stage` (see Session::pendingArgument(), envelope()).
  std::function<Verdict(const Session& s, PolicyStage stage)> ask;
  // kMessageEnd, before the commit, with the body octets received: a refusal is the
  // commit's answer instead (as the server's end-of-data question). Null: accepted.
  std::function<Verdict(const Session& s, uint64_t body_octets)> end_of_data;
};

// Parses the text of a transcript; on error returns nullopt and sets `error`.
std::optional<Transcript> parseTranscript(const std::string& name, const std::string& text,
                                          std::string& error);

struct RunResult {
  std::vector<Event> events;
  std::string error;  // a harness or invariant failure, empty if none
};

// Runs the transcript, cutting each run of client bytes into `chunk` sized receive()
// calls (0 = all at once).
RunResult runTranscript(const Transcript& t, size_t chunk, const PolicyHook* hook = nullptr);

// The total client bytes between sync points, largest run (the "whole input" size).
size_t longestSendRun(const Transcript& t);

// \r \n \t \0 \\ \xHH escapes, and {{N*text}} repetition.
std::string expandRepeats(const std::string& s, std::string& error);
std::string unescape(const std::string& s, std::string& error);
std::string escape(std::string_view bytes);

// The transcript files of a directory: the names of its *.txt files without the
// extension, sorted (empty when the directory is missing), and one file's bytes.
std::vector<std::string> transcriptNamesIn(const std::filesystem::path& dir);
std::string readTranscriptFile(const std::filesystem::path& path);

}  // namespace mx::smtp::testing

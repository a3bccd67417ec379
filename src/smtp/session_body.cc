// smtp/session_body.cc — the message body: DATA (dot-stuffed text up to CRLF.CRLF, decoded
// by data_scanner.h) and BDAT (counted chunks), the one check both share before a body may
// be sent (Stalwart's can_send_data), the body output with the SIZE limit, and the end of a
// message (commit question or refusal).
//
// Standards: RFC 5321 4.1.1.4 (DATA), 4.5.2 (transparency), 3.3 (no body without a valid
// recipient), 4.5.3.1.7 and RFC 1870 section 6 (size), RFC 3030 sections 2-4 (BDAT,
// BINARYMIME), RFC 2920 section 3.1 (a pipelined body after a refused DATA).
//
// Trust: body octets are untrusted and never interpreted beyond line ends and dots (DATA)
// or counted (BDAT); they are handed out as views into the input buffer. A refused body is
// still read to its end so the session stays in sync with the client.
#include <algorithm>
#include <string>

#include "core/assert.h"
#include "smtp/ascii.h"
#include "smtp/session_impl.h"

namespace mx::smtp {

using namespace detail;

// RFC 5321 3.3 and RFC 3030 sections 2-3: may a body be sent (or continued) now? One check
// for DATA and BDAT; kCount_ when it may. The order decides which reply a client sees.
ReplyId Session::Impl::bodyRefusal(bool bdat) const {
  if (!txn_) return ReplyId::kNeedMail;
  if (txn_->bdat_failure != ReplyId::kCount_) {
    // RFC 3030 section 2: after a failed chunk every further chunk gets the same reply
    // until LAST; DATA cannot take over a BDAT transaction.
    return bdat ? txn_->bdat_failure : ReplyId::kDataAfterBdat;
  }
  if (!bdat && txn_->bdat_seen) return ReplyId::kDataAfterBdat;  // RFC 3030 section 2: no mixing
  if (envelope_.rcpt_to.empty()) {
    // RFC 5321 3.3 and RFC 2920 section 3.1: 503 without any RCPT, 554 when every
    // recipient was refused (so a pipelined body is not taken).
    return txn_->rcpt_attempts == 0 ? ReplyId::kNeedRcpt : ReplyId::kNoValidRecipients;
  }
  if (!bdat && envelope_.body == BodyType::kBinaryMime) return ReplyId::kBinaryNeedsBdat;  // RFC 3030 3
  return ReplyId::kCount_;
}

void Session::Impl::openBody() {
  txn_->body_bytes = 0;
  txn_->discarding = false;
  txn_->body_open = true;
  queueAction(ActionKind::kMessageBegin);
}

void Session::Impl::abortBody() {
  if (!txn_ || !txn_->body_open) return;
  txn_->body_open = false;
  queueAction(ActionKind::kMessageAbort);
}

// The body will be refused: free the driver's writer now, read the rest without handing
// it out.
void Session::Impl::stopBody() {
  abortBody();
  txn_->discarding = true;
}

// Body octets (already dot-unstuffed) for the open message. Enforces SIZE on the actual
// body (RFC 1870 section 6.3): octets up to the limit are handed out, then the writer is
// aborted and the rest is discarded. Returns false when this call crossed the limit.
bool Session::Impl::bodyBytes(const char* p, size_t n) {
  if (txn_->discarding || n == 0) return true;
  const uint64_t limit = sizeLimit();
  if (limit != 0 && n > limit - txn_->body_bytes) {  // body_bytes <= limit always
    emitBody(p, static_cast<size_t>(limit - txn_->body_bytes));
    txn_->body_bytes = limit;
    stopBody();
    return false;
  }
  emitBody(p, n);
  txn_->body_bytes += n;
  return true;
}

void Session::Impl::emitBody(const char* p, size_t n) {
  if (n == 0 || !txn_->body_open) return;
  if (!actions_.empty() && actions_.back().kind == ActionKind::kBodyData &&
      actions_.back().data.data() + actions_.back().data.size() == p) {
    actions_.back().data = std::string_view(actions_.back().data.data(), actions_.back().data.size() + n);
    return;
  }
  queueAction(ActionKind::kBodyData, std::string_view(p, n));
}

// The body is complete and acceptable to the session: the driver checks and commits it.
void Session::Impl::messageComplete() {
  ++messages_;
  queueAction(ActionKind::kMessageEnd);
  txn_->body_open = false;  // handed to the driver's commit
  commit_pending_ = true;
  enterState(WaitCommit{}, "end of data");
}

void Session::Impl::messageRefused(ReplyId id) {
  ++messages_;
  ++stats_.messages_rejected;
  resetTransaction();
  enterState(Command{}, "message refused");
  reply(id);
}

// ---- DATA (RFC 5321 4.1.1.4) ----------------------------------------------------------------

void Session::Impl::cmdData(std::string_view args) {
  if (!args.empty()) {
    reply(ReplyId::kSyntaxData);
    return;
  }
  const ReplyId refused = bodyRefusal(false);
  if (refused != ReplyId::kCount_) {
    reply(refused);
    return;
  }
  reply(ReplyId::kStartData);
  openBody();
  Data d;
  d.scanner.reset(options_.max_line_length);
  enterState(d, "DATA");
}

bool Session::Impl::readData() {
  const std::string_view avail = available();
  if (avail.empty()) return false;
  Data& d = std::get<Data>(mode_);  // the sink does not change the mode
  const size_t used = d.scanner.scan(avail, [this, &d](const char* p, size_t n) {
    if (!bodyBytes(p, n) && d.refusal == ReplyId::kCount_) d.refusal = ReplyId::kMessageTooBig;
  });
  in_pos_ += used;
  if (d.scanner.sawLongLine() && d.refusal == ReplyId::kCount_) {
    // A line over max_line_length (docs/smtp.md): the scanner handed out the line up to
    // the bound and nothing after; the message is refused at its end.
    d.refusal = ReplyId::kLongLine;
    stopBody();
  }
  if (!d.scanner.done()) return false;
  wait_since_ = now_;
  if (d.scanner.sawBareLf()) ++stats_.bare_lf_messages;
  if (d.refusal != ReplyId::kCount_) {
    messageRefused(d.refusal);
  } else if (d.scanner.sawBareCr()) {
    // RFC 5321 2.3.8 and the smuggling defence (docs/smtp.md): a CR not followed by LF
    // has no safe meaning, so the message is refused as a whole.
    messageRefused(ReplyId::kBareLineEnding);
  } else {
    messageComplete();
  }
  return true;
}

// ---- BDAT (RFC 3030 section 2) --------------------------------------------------------------

void Session::Impl::cmdBdat(std::string_view args) {
  // bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] CRLF; chunk-size = 1*DIGIT
  const size_t sp = args.find(' ');
  const std::string_view size_text = args.substr(0, sp);
  uint64_t size = 0;
  if (!parseDecimal(size_text, 20, size) || size == UINT64_MAX) {
    // A syntax error (RFC 3030 section 2 / RFC 5321 4.2.2: 501), but without a size the
    // chunk's end cannot be found: any following byte could be taken as a command. Close
    // rather than guess (the same stance as on smuggling; docs/smtp.md).
    closeWith(ReplyId::kBdatBadChunkSize);
    return;
  }
  Bdat b;
  b.size = size;
  b.remaining = size;
  bool syntax_ok = true;
  if (sp != std::string_view::npos) {
    b.last = equalsIgnoreCase(args.substr(sp + 1), "LAST");
    syntax_ok = b.last;
  }
  // Decide the chunk's fate now; its octets are consumed either way (RFC 3030 section 2).
  const ReplyId gate = gateRefusal(kBdatFlags);
  ReplyId refused = ReplyId::kCount_;
  if (gate != ReplyId::kCount_) {
    b.refusal = gate;
  } else if (!options_.chunking) {
    // Not offered, but the octets are still taken so they never run as commands.
    b.refusal = ReplyId::kNotImplemented;
  } else if (!syntax_ok) {
    b.refusal = ReplyId::kSyntaxBdat;
  } else if ((refused = bodyRefusal(true)) != ReplyId::kCount_) {
    b.refusal = refused;
    b.repeat = txn_ && txn_->bdat_failure != ReplyId::kCount_;
  } else if (sizeLimit() != 0 && size > sizeLimit() - txn_->body_bytes) {
    // RFC 1870 / RFC 3030: the count is known up front, so the limit is checked before
    // a single octet of this chunk is spooled.
    abortBody();
    b.refusal = ReplyId::kMessageTooBig;
  } else if (!txn_->bdat_seen) {
    txn_->bdat_seen = true;
    envelope_.chunked = true;
    openBody();
  }
  enterState(b, "BDAT");
}

bool Session::Impl::readChunk() {
  Bdat& b = std::get<Bdat>(mode_);
  const std::string_view avail = available();
  const auto n = static_cast<size_t>(std::min<uint64_t>(b.remaining, avail.size()));
  if (n > 0) {
    // RFC 3030 section 2: the octets as sent — no dot-unstuffing, no line-end handling.
    if (b.refusal == ReplyId::kCount_ && !bodyBytes(avail.data(), n)) b.refusal = ReplyId::kMessageTooBig;
    in_pos_ += n;
    b.remaining -= n;
  }
  if (b.remaining > 0) return false;
  wait_since_ = now_;
  const Bdat done = b;  // the mode changes below
  chunkComplete(done);
  return true;
}

void Session::Impl::chunkComplete(const Bdat& b) {
  if (b.refusal != ReplyId::kCount_) {
    if (txn_) {
      // RFC 3030 section 2: after a failed chunk the client sends no more; chunks
      // already pipelined are discarded until LAST, which ends the transaction.
      txn_->bdat_failure = b.refusal;
      if (b.last) {
        ++messages_;
        ++stats_.messages_rejected;
        resetTransaction();
      }
    }
    enterState(Command{}, "chunk refused");
    reply(b.refusal, {}, !b.repeat);
    return;
  }
  if (!b.last) {
    // RFC 3030 section 2: each non-LAST chunk is acknowledged with its octet count.
    enterState(Command{}, "chunk received");
    reply(ReplyId::kChunkReceived, std::to_string(b.size));
    return;
  }
  messageComplete();
}

}  // namespace mx::smtp

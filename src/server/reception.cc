// server/reception.cc — see reception.h.
#include "server/reception.h"

#include <memory>
#include <mutex>

namespace mx::server {

MessageId Reception::commit(spool::MessageWriterPtr writer, Envelope envelope, Done done, std::string body) {
  const WallTime now = clock_.wall();
  const MessageId id = ids_.next(now);
  if (!writer) {
    done(id, Error(ErrorClass::kTransientBackend, "spool write failed"), false);
    return id;
  }
  envelope.id = id;
  envelope.received_at = now;
  if (!gate_) {
    lane_.commit(std::move(writer), std::move(envelope),
                 [id, done = std::move(done)](Status st) { done(id, std::move(st), false); });
    return id;
  }
  // The gate needs the envelope after the spool has taken its own copy.
  Envelope for_gate = envelope;
  lane_.commit(
      std::move(writer), std::move(envelope),
      [id, gate = gate_, env = std::move(for_gate), body = std::move(body), done = std::move(done)](Status st) mutable {
        if (!st.ok()) return done(id, std::move(st), false);
        gate->confirm(env, std::move(body), [id, done = std::move(done)](Status g) { done(id, std::move(g), true); });
      });
  return id;
}

std::vector<MessageId> Reception::commitCopies(spool::MessageWriterPtr writer, std::vector<Envelope> copies, Done done,
                                               std::string body) {
  const WallTime now = clock_.wall();
  std::vector<MessageId> ids;
  ids.reserve(copies.size());
  for (size_t i = 0; i < copies.size(); ++i) ids.push_back(ids_.next(now));
  if (copies.empty()) {
    done(MessageId(), Error(ErrorClass::kPermanentBackend, "reception: a message without an envelope"), false);
    return ids;
  }
  if (!writer) {
    done(ids.front(), Error(ErrorClass::kTransientBackend, "spool write failed"), false);
    return ids;
  }
  for (size_t i = 0; i < copies.size(); ++i) {
    copies[i].id = ids[i];
    copies[i].received_at = now;
  }
  const MessageId first = ids.front();
  if (!gate_) {
    lane_.commitCopies(std::move(writer), std::move(copies),
                       [first, done = std::move(done)](Status st) { done(first, std::move(st), false); });
    return ids;
  }
  // Every copy goes through the gate after the spool commit; the last answer completes.
  struct Join {
    std::mutex mu;
    size_t left = 0;
    Status status = okStatus();
    Done done;
  };
  auto join = std::make_shared<Join>();
  join->left = copies.size();
  join->done = std::move(done);
  std::vector<Envelope> for_gate = copies;
  lane_.commitCopies(
      std::move(writer), std::move(copies),
      [first, gate = gate_, envs = std::move(for_gate), body = std::move(body), join](Status st) mutable {
        if (!st.ok()) return join->done(first, std::move(st), false);
        auto confirmed = [first, join](Status g) {
          Done finish;
          Status result = okStatus();
          {
            std::lock_guard lock(join->mu);
            if (!g.ok() && join->status.ok()) join->status = std::move(g);
            if (--join->left != 0) return;
            finish = std::move(join->done);
            result = join->status;
          }
          finish(first, std::move(result), true);
        };
        // Every copy but the last gets its own copy of the body; the last takes it.
        for (size_t i = 0; i + 1 < envs.size(); ++i) gate->confirm(envs[i], body, confirmed);
        gate->confirm(envs.back(), std::move(body), confirmed);
      });
  return ids;
}

}  // namespace mx::server

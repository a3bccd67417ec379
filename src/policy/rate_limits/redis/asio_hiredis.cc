// policy/rate_limits/redis/asio_hiredis.cc — see asio_hiredis.h.
#include "policy/rate_limits/redis/asio_hiredis.h"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <memory>

namespace mx::policy::redis {
namespace {

namespace asio = boost::asio;

// One per context. Waits in flight hold a shared_ptr, so a wait that completes after
// hiredis's cleanup finds `ac` null and does nothing.
struct Watcher : std::enable_shared_from_this<Watcher> {
  Watcher(asio::io_context& ioc, redisAsyncContext* c) : sd(ioc, c->c.fd), ac(c) {}

  void wait(bool for_read) {
    bool& busy = for_read ? reading : writing;
    if (busy || ac == nullptr) return;
    busy = true;
    sd.async_wait(for_read ? asio::posix::stream_descriptor::wait_read : asio::posix::stream_descriptor::wait_write,
                  [self = shared_from_this(), for_read](const boost::system::error_code& ec) {
                    (for_read ? self->reading : self->writing) = false;
                    if (ec || self->ac == nullptr || !(for_read ? self->want_read : self->want_write)) return;
                    // May end in hiredis freeing the context: cleanup() then nulls `ac`.
                    if (for_read) {
                      redisAsyncHandleRead(self->ac);
                    } else {
                      redisAsyncHandleWrite(self->ac);
                    }
                    if (self->ac != nullptr && (for_read ? self->want_read : self->want_write)) self->wait(for_read);
                  });
  }

  asio::posix::stream_descriptor sd;
  redisAsyncContext* ac;
  bool want_read = false, want_write = false;
  bool reading = false, writing = false;  // a wait is in flight
};

using Holder = std::shared_ptr<Watcher>;
Watcher& of(void* privdata) { return **static_cast<Holder*>(privdata); }

void addRead(void* p) {
  of(p).want_read = true;
  of(p).wait(true);
}
void delRead(void* p) { of(p).want_read = false; }
void addWrite(void* p) {
  of(p).want_write = true;
  of(p).wait(false);
}
void delWrite(void* p) { of(p).want_write = false; }
void cleanup(void* p) {
  auto* holder = static_cast<Holder*>(p);
  Watcher& w = **holder;
  w.ac = nullptr;
  w.want_read = w.want_write = false;
  boost::system::error_code ignored;
  w.sd.cancel(ignored);
  (void)w.sd.release();  // hiredis closes its own socket
  delete holder;
}

}  // namespace

bool attachAsio(asio::io_context& ioc, redisAsyncContext* ac) {
  if (ac->ev.data != nullptr) return false;
  ac->ev.data = new Holder(std::make_shared<Watcher>(ioc, ac));
  ac->ev.addRead = addRead;
  ac->ev.delRead = delRead;
  ac->ev.addWrite = addWrite;
  ac->ev.delWrite = delWrite;
  ac->ev.cleanup = cleanup;
  return true;
}

}  // namespace mx::policy::redis

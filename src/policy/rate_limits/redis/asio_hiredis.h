// policy/rate_limits/redis/asio_hiredis.h — drives a hiredis asynchronous context from an
// Asio io_context (the role of hiredis's own libev/libuv adapters): hiredis asks for read
// and write readiness of its socket through the ev hooks, and this adapter waits for them
// with a non-owning posix::stream_descriptor and calls redisAsyncHandleRead/Write on the
// io_context's thread. hiredis keeps owning the socket: the descriptor is released (never
// closed) when hiredis cleans up.
//
// Threads: attach() and everything after it run on the io_context's (single) thread.
// Errors: attach() fails only when the context already has an adapter.
// Trust: none needed (bytes are hiredis's business).
#pragma once

#include <hiredis/async.h>

#include <boost/asio/io_context.hpp>

namespace mx::policy::redis {

// Attaches `ac` (just returned by redisAsyncConnect, without an error) to `ioc`. Returns
// false when `ac` already has event hooks. Call before redisAsyncSetConnectCallback (which
// asks for the first write readiness to detect the connect).
bool attachAsio(boost::asio::io_context& ioc, redisAsyncContext* ac);

}  // namespace mx::policy::redis

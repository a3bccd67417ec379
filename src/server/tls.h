// server/tls.h — the TLS server context (OpenSSL 3 through Boost.Asio): TLS 1.2 and 1.3
// only, the certificate chain and key from PEM files, reloadable (SIGHUP) without touching
// sessions already running, and a self-signed certificate generated on first run for the
// embedded defaults.
// Standards: RFC 8446 (TLS 1.3), RFC 5246 (TLS 1.2), RFC 8996 (no TLS 1.0/1.1), RFC 3207 and
// RFC 8314 (STARTTLS and implicit TLS for mail). RFC 5280 for the generated certificate.
// Trust: the PEM files are operator-provided; errors name the file. Peer bytes are handled
// by OpenSSL.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <mutex>
#include <string>

namespace mx::server {

using TlsContextPtr = std::shared_ptr<boost::asio::ssl::context>;

// Builds a server context from PEM files. Returns nullptr and sets *error on failure.
TlsContextPtr makeServerTlsContext(const std::string& cert_file, const std::string& key_file,
                                   std::string* error);

// Writes a new self-signed P-256 certificate and key (mode 0600) for `hostname` unless both
// files exist. Returns false and sets *error on failure.
bool ensureSelfSignedCertificate(const std::string& cert_file, const std::string& key_file,
                                 const std::string& hostname, std::string* error);

// Holds the current context; reload() swaps it atomically for new handshakes.
class TlsContextHolder {
 public:
  TlsContextHolder(std::string cert_file, std::string key_file)
      : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)) {}
  bool reload(std::string* error);
  TlsContextPtr current() const;

 private:
  std::string cert_file_, key_file_;
  mutable std::mutex mu_;
  TlsContextPtr ctx_;
};

}  // namespace mx::server

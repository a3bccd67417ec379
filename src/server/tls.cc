// server/tls.cc — see tls.h.
#include "server/tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>

namespace mx::server {
namespace {

std::string opensslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

bool addExtension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

}  // namespace

TlsContextPtr makeServerTlsContext(const std::string& cert_file, const std::string& key_file,
                                   std::string* error) {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);  // RFC 8996
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                  SSL_OP_NO_RENEGOTIATION);
  // Idle TLS sessions give their read/write buffers back (the idle-memory budget).
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(native, cert_file.c_str()) != 1) {
    *error = "tls.cert_file " + cert_file + ": " + opensslError();
    return nullptr;
  }
  if (SSL_CTX_use_PrivateKey_file(native, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    *error = "tls.key_file " + key_file + ": " + opensslError();
    return nullptr;
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    *error = "tls.key_file " + key_file + " does not match tls.cert_file " + cert_file;
    return nullptr;
  }
  return ctx;
}

bool ensureSelfSignedCertificate(const std::string& cert_file, const std::string& key_file,
                                 const std::string& hostname, std::string* error) {
  namespace fs = std::filesystem;
  if (fs::exists(cert_file) && fs::exists(key_file)) return true;
  std::error_code ec;
  for (const auto& f : {cert_file, key_file}) {
    fs::path parent = fs::path(f).parent_path();
    if (!parent.empty()) fs::create_directories(parent, ec);
  }
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (!key) {
    *error = "generating a TLS key: " + opensslError();
    return false;
  }
  X509* cert = X509_new();
  bool ok = cert != nullptr;
  if (ok) {
    X509_set_version(cert, 2);  // v3
    unsigned char serial[16];
    RAND_bytes(serial, sizeof serial);
    serial[0] &= 0x7F;  // RFC 5280 4.1.2.2: positive
    BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 365L * 24 * 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(hostname.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    ok = addExtension(cert, NID_subject_alt_name,
                      "DNS:" + hostname + ",DNS:localhost,IP:127.0.0.1,IP:::1") &&
         addExtension(cert, NID_basic_constraints, "critical,CA:FALSE") &&
         addExtension(cert, NID_ext_key_usage, "serverAuth") &&
         X509_sign(cert, key, EVP_sha256()) > 0;
  }
  if (ok) {
    mode_t old = umask(077);
    FILE* kf = std::fopen(key_file.c_str(), "w");
    umask(old);
    FILE* cf = std::fopen(cert_file.c_str(), "w");
    ok = kf && cf && PEM_write_PrivateKey(kf, key, nullptr, nullptr, 0, nullptr, nullptr) == 1 &&
         PEM_write_X509(cf, cert) == 1;
    if (kf) std::fclose(kf);
    if (cf) std::fclose(cf);
    if (!ok) *error = "writing " + cert_file + " / " + key_file + " failed";
  } else {
    *error = "building a self-signed certificate: " + opensslError();
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  return ok;
}

bool TlsContextHolder::reload(std::string* error) {
  TlsContextPtr next = makeServerTlsContext(cert_file_, key_file_, error);
  if (!next) return false;
  std::lock_guard<std::mutex> lock(mu_);
  ctx_ = std::move(next);
  return true;
}

TlsContextPtr TlsContextHolder::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ctx_;
}

}  // namespace mx::server

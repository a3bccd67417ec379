// Tests for events: the CloudEvents JSON shape (parsed back with nlohmann::json), hostile
// envelope bytes still giving valid JSON, and the file sink (one line per event, one sync
// per batch, torn last line cut on open, nothing torn left after reopen).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "events/cloud_event.h"
#include "events/file/file_event_sink.h"

namespace mx::events {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

Envelope sampleEnvelope() {
  Envelope e;
  e.id = *MessageId::parse("01HF0000000000000000000000");
  e.listener = "smtp";
  e.tenant = "acme";
  e.received_at = WallTime(std::chrono::milliseconds(1700000000123ll));
  e.mail_from = "alice@example.org";
  e.rcpt_to = {"bob@acme.test", "carol@acme.test"};
  e.helo = "mail.example.org";
  e.esmtp = true;
  e.client_ip = "192.0.2.1";
  e.client_port = 40000;
  return e;
}

// `env` must outlive the result (the event refers to it, as the pipeline's to its record).
MessageReceived sample(const Envelope& env) {
  MessageReceived m;
  m.envelope = &env;
  m.hostname = "mx1.example.net";
  m.tenant = "acme";
  m.size = 1234;
  m.sha256 = std::string(64, 'a');
  m.raw_key = "acme/raw/2023/11/14/01HF0000000000000000000000.eml";
  return m;
}

TEST(CloudEvent, ShapeWithNulls) {
  Envelope env = sampleEnvelope();
  json j = json::parse(buildMessageReceivedJson(sample(env)));
  EXPECT_EQ(j["specversion"], "1.0");
  EXPECT_EQ(j["type"], "mxgate.message.received");
  EXPECT_EQ(j["source"], "mxgate://mx1.example.net/smtp");
  EXPECT_EQ(j["id"], "01HF0000000000000000000000");
  EXPECT_EQ(j["subject"], "01HF0000000000000000000000");
  EXPECT_EQ(j["time"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(j["datacontenttype"], "application/json");
  // W3C trace context from the id: trace id = the id's 128 bits; parent id = the low 64
  // random bits, or 1 when they are zero (an all-zero parent id is invalid).
  EXPECT_EQ(j["traceparent"], "00-018bc000000000000000000000000000-0000000000000001-01");
  const json& d = j["data"];
  EXPECT_EQ(d["id"], "01HF0000000000000000000000");
  EXPECT_EQ(d["tenant"], "acme");
  EXPECT_EQ(d["received_at"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(d["size"], 1234);
  EXPECT_EQ(d["sha256"], std::string(64, 'a'));
  const json& e = d["envelope"];
  // The one envelope shape (core/envelope.h), the same object the parsed document holds.
  EXPECT_EQ(e, json::parse(envelopeJson(env)));
  EXPECT_EQ(e["reception"], "smtp");
  EXPECT_EQ(e["mail_from"], "alice@example.org");
  EXPECT_EQ(e["rcpt_to"][0]["address"], "bob@acme.test");
  EXPECT_EQ(e["rcpt_to"][1]["domain"], "acme.test");
  EXPECT_EQ(e["helo"], "mail.example.org");
  EXPECT_EQ(e["client_ip"], "192.0.2.1");
  EXPECT_EQ(e["client_port"], 40000);
  EXPECT_TRUE(e["proxy_peer_ip"].is_null());
  EXPECT_TRUE(e["tls"].is_null());
  EXPECT_TRUE(e["auth_user"].is_null());
  EXPECT_EQ(e["smtputf8"], false);
  EXPECT_EQ(e["body"], "7bit");
  EXPECT_EQ(d["storage"]["raw"], "acme/raw/2023/11/14/01HF0000000000000000000000.eml");
  EXPECT_TRUE(d["storage"]["parsed"].is_null());
  EXPECT_TRUE(d["storage"]["attachments"].empty());
  EXPECT_TRUE(d["summary"].is_null());
  // Exactly the documented keys.
  std::vector<std::string> top;
  for (auto it = j.begin(); it != j.end(); ++it) top.push_back(it.key());
  std::sort(top.begin(), top.end());
  EXPECT_EQ(top, (std::vector<std::string>{"data", "datacontenttype", "id", "source", "specversion", "subject", "time",
                                           "traceparent", "type"}));
}

TEST(CloudEvent, ShapeWithEverythingSet) {
  Envelope env = sampleEnvelope();
  env.proxy_peer_ip = "10.0.0.5";
  env.tls_version = "TLSv1.3";
  env.tls_cipher = "TLS_AES_256_GCM_SHA384";
  env.auth_user = "submitter";
  env.smtputf8 = true;
  env.body = BodyType::kEightBitMime;
  MessageReceived m = sample(env);
  m.parsed_key = "acme/parsed/2023/11/14/x.json";
  m.attachment_keys = {"acme/attachments/x/1-a.pdf"};
  m.summary_json = R"({"subject":"Hi","attachments":1})";
  Event ev = makeMessageReceivedEvent(m);
  EXPECT_EQ(ev.id, "01HF0000000000000000000000");
  EXPECT_EQ(ev.type, "mxgate.message.received");
  json d = json::parse(ev.json)["data"];
  EXPECT_EQ(d["envelope"]["proxy_peer_ip"], "10.0.0.5");
  EXPECT_EQ(d["envelope"]["tls"], (json{{"version", "TLSv1.3"}, {"cipher", "TLS_AES_256_GCM_SHA384"}}));
  EXPECT_EQ(d["envelope"]["auth_user"], "submitter");
  EXPECT_EQ(d["envelope"]["smtputf8"], true);
  EXPECT_EQ(d["envelope"]["body"], "8bitmime");
  EXPECT_EQ(d["storage"]["parsed"], "acme/parsed/2023/11/14/x.json");
  EXPECT_EQ(d["storage"]["attachments"][0], "acme/attachments/x/1-a.pdf");
  EXPECT_EQ(d["summary"]["subject"], "Hi");
  EXPECT_EQ(d["summary"]["attachments"], 1);
}

TEST(CloudEvent, HostileEnvelopeBytesStayValidJson) {
  Envelope env = sampleEnvelope();
  env.mail_from = std::string("a\"b\\c\0d\r\n\xff\xfe@x", 13);
  env.helo = "\xC3\x28 \xE2\x80\xAE";
  env.rcpt_to = {std::string("\0", 1), "\x1b[31m"};
  MessageReceived m = sample(env);
  std::string text = buildMessageReceivedJson(m);
  EXPECT_EQ(text.find('\n'), std::string::npos);
  json j = json::parse(text);
  EXPECT_EQ(j["data"]["envelope"]["mail_from"].get<std::string>().substr(0, 5), std::string("a\"b\\c", 5));
  EXPECT_EQ(j["data"]["envelope"]["rcpt_to"][1]["address"], "\x1b[31m");
}

class TempDir {
 public:
  TempDir() {
    std::string t = (fs::temp_directory_path() / "mxevents-XXXXXX").string();
    path_ = ::mkdtemp(t.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::vector<std::string> readLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

TEST(FileEventSink, OneLinePerEventOneSyncPerBatch) {
  TempDir t;
  std::string path = t.path() + "/var/events.jsonl";
  auto sink = FileEventSink::open({path, true});
  ASSERT_TRUE(sink.ok()) << sink.error().message();
  std::vector<Event> batch;
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    Envelope env = sampleEnvelope();
    env.id = MessageId(1700000000000ull + i, 1, 2);
    ids.push_back(env.id.toString());
    batch.push_back(makeMessageReceivedEvent(sample(env)));
  }
  ASSERT_TRUE((*sink)->publish(batch).ok());
  ASSERT_TRUE((*sink)->publish(std::span<const Event>(batch).subspan(0, 3)).ok());
  EXPECT_EQ((*sink)->syncCount(), 2u);
  EXPECT_EQ((*sink)->eventCount(), 13u);
  auto lines = readLines(path);
  ASSERT_EQ(lines.size(), 13u);
  for (size_t i = 0; i < lines.size(); ++i) {
    json j = json::parse(lines[i]);
    EXPECT_EQ(j["id"], ids[i % 10]);
  }
}

TEST(FileEventSink, NewlinesInsideEventJsonDoNotSplitLines) {
  TempDir t;
  std::string path = t.path() + "/e.jsonl";
  auto sink = FileEventSink::open({path, false});
  ASSERT_TRUE(sink.ok());
  Envelope env = sampleEnvelope();
  MessageReceived m = sample(env);
  m.summary_json = "{\n  \"subject\": \"multi\\nline\"\r\n}";
  Event ev = makeMessageReceivedEvent(m);
  ASSERT_TRUE((*sink)->publish(std::span<const Event>(&ev, 1)).ok());
  auto lines = readLines(path);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(json::parse(lines[0])["data"]["summary"]["subject"], "multi\nline");
}

TEST(FileEventSink, TornLastLineIsCutOnOpen) {
  TempDir t;
  std::string path = t.path() + "/e.jsonl";
  {
    auto sink = FileEventSink::open({path, true});
    ASSERT_TRUE(sink.ok());
    Envelope env = sampleEnvelope();
    Event ev = makeMessageReceivedEvent(sample(env));
    ASSERT_TRUE((*sink)->publish(std::span<const Event>(&ev, 1)).ok());
  }
  std::ofstream(path, std::ios::app) << R"({"specversion":"1.0","type":"mxg)";
  auto sink = FileEventSink::open({path, true});
  ASSERT_TRUE(sink.ok());
  Envelope env = sampleEnvelope();
  Event ev = makeMessageReceivedEvent(sample(env));
  ASSERT_TRUE((*sink)->publish(std::span<const Event>(&ev, 1)).ok());
  auto lines = readLines(path);
  ASSERT_EQ(lines.size(), 2u);
  for (const auto& l : lines) EXPECT_NO_THROW(json::parse(l));
  // A file that is one torn line only.
  std::string p2 = t.path() + "/torn.jsonl";
  std::ofstream(p2) << "{\"a\":";
  auto s2 = FileEventSink::open({p2, false});
  ASSERT_TRUE(s2.ok());
  EXPECT_EQ(fs::file_size(p2), 0u);
}

TEST(CloudEvent, TraceparentCarriesTheWholeIdAndIsStablePerMessage) {
  MessageId id(0x0123456789ABull, 0xCDEF, 0x0011223344556677ull);
  EXPECT_EQ(traceparentOf(id), "00-0123456789abcdef0011223344556677-0011223344556677-01");
  EXPECT_EQ(traceparentOf(id), traceparentOf(*MessageId::parse(id.toString())));
  EXPECT_NE(traceparentOf(id), traceparentOf(MessageId(0x0123456789ABull, 0xCDEF, 0x0011223344556678ull)));
}

}  // namespace
}  // namespace mx::events

// Tests for the quarantine's files: an entry round-trips the envelope (awkward bytes
// included) and the raw bytes exactly with its failure history; list, retry (single, all,
// twice, unknown, not an id), the inbox, finish and set-aside; damaged files are reported,
// never retried; temporaries left by a crash are removed by the owner only.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../spool/spool_test_util.h"
#include "pipeline/quarantine.h"
#include "pipeline/quarantine_cli.h"

#include <nlohmann/json.hpp>
#include <sstream>

namespace mx::pipeline {
namespace {

namespace fs = std::filesystem;
using spool::testing::makeBody;
using spool::testing::makeEnvelope;
using spool::testing::TempDir;

QuarantineFailure failure(uint32_t attempts) {
  QuarantineFailure f;
  f.reason = "store raw message t/raw/x.eml: refused \"for good\"\n";
  f.error_class = ErrorClass::kResource;
  f.first_failure = WallTime(std::chrono::nanoseconds(1700000000123456789ll));
  f.last_failure = f.first_failure + std::chrono::seconds(90);
  f.attempts = attempts;
  return f;
}

std::unique_ptr<Quarantine> openQ(const std::string& dir, bool owner = true) {
  auto q = Quarantine::open({dir, true, owner});
  EXPECT_TRUE(q.ok());
  return std::move(*q);
}

TEST(Quarantine, PutListRetryLoadFinish) {
  TempDir t;
  auto q = openQ(t.sub("q"));
  std::vector<Envelope> envs;
  for (uint64_t i = 0; i < 3; ++i) {
    envs.push_back(makeEnvelope(i));
    ASSERT_TRUE(q->put(envs[i], makeBody(i, 1000 + i), failure(static_cast<uint32_t>(i + 1)), "spool lane 0 sequence 9", 0).ok());
  }
  auto list = q->list();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 3u);
  for (uint64_t i = 0; i < 3; ++i) {
    const auto& e = (*list)[i];  // oldest id first
    EXPECT_FALSE(e.damaged);
    EXPECT_EQ(e.id, envs[i].id.toString());
    EXPECT_EQ(e.name, e.id + ".mxq");
    EXPECT_EQ(e.envelope, envs[i]);  // NUL, CR/LF, invalid UTF-8 included
    EXPECT_EQ(e.size, 1000 + i);
    EXPECT_EQ(e.failure.reason, failure(1).reason);
    EXPECT_EQ(e.failure.error_class, ErrorClass::kResource);
    EXPECT_EQ(e.failure.first_failure, failure(1).first_failure);
    EXPECT_EQ(e.failure.last_failure, failure(1).last_failure);
    EXPECT_EQ(e.failure.attempts, i + 1);
    EXPECT_EQ(e.origin, "spool lane 0 sequence 9");
    EXPECT_TRUE(e.raw.empty());  // list does not read the bytes
  }
  ASSERT_TRUE(q->retry(envs[1].id.toString()).ok());
  auto again = q->retry(envs[1].id.toString());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().errorClass(), ErrorClass::kNotFound);
  EXPECT_NE(again.error().message().find("already waiting"), std::string::npos);
  EXPECT_EQ(q->list()->size(), 2u);
  auto inbox = q->inbox();
  ASSERT_EQ(inbox->size(), 1u);
  auto full = q->loadRetry((*inbox)[0]);
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->raw, makeBody(1, 1001));
  EXPECT_EQ(full->envelope, envs[1]);
  ASSERT_TRUE(q->finishRetry((*inbox)[0]).ok());
  EXPECT_TRUE(q->inbox()->empty());
  EXPECT_FALSE(fs::exists(t.sub("q/retry/" + (*inbox)[0])));

  auto all = q->retryAll();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
  EXPECT_TRUE(q->list()->empty());
  EXPECT_EQ(q->inbox()->size(), 2u);
}

TEST(Quarantine, PutReplacesAnEntryWithTheSameId) {
  TempDir t;
  auto q = openQ(t.sub("q"));
  Envelope e = makeEnvelope(5);
  ASSERT_TRUE(q->put(e, "old", failure(1), "spool", 0).ok());
  QuarantineFailure f = failure(4);
  f.reason = "new reason";
  ASSERT_TRUE(q->put(e, "old", f, "retry", 2).ok());
  auto list = q->list();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].failure.reason, "new reason");
  EXPECT_EQ((*list)[0].failure.attempts, 4u);
  EXPECT_EQ((*list)[0].retries, 2u);
  // No temporary left behind.
  size_t files = 0;
  for (const auto& d : fs::directory_iterator(t.sub("q"))) files += d.is_regular_file();
  EXPECT_EQ(files, 1u);
}

TEST(Quarantine, RejectsIdsThatAreNotMessageIds) {
  TempDir t;
  auto q = openQ(t.sub("q"));
  for (std::string bad : {"../../etc/passwd", "", "01HF000000000000000000000", "01hf0000000000000000000000",
                          "01HF0000000000000000000000/x"}) {
    auto s = q->retry(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.error().errorClass(), ErrorClass::kConfig) << bad;
  }
  auto s = q->retry("01HF0000000000000000000000");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().errorClass(), ErrorClass::kNotFound);
}

TEST(Quarantine, DamagedEntriesAreReportedAndSetAside) {
  TempDir t;
  auto q = openQ(t.sub("q"));
  Envelope a = makeEnvelope(1), b = makeEnvelope(2);
  ASSERT_TRUE(q->put(a, makeBody(1, 500), failure(1), "spool", 0).ok());
  ASSERT_TRUE(q->put(b, makeBody(2, 500), failure(1), "spool", 0).ok());
  const std::string pa = t.sub("q/" + a.id.toString() + ".mxq");
  const std::string pb = t.sub("q/" + b.id.toString() + ".mxq");
  // a: a flipped byte in the meta; b: a flipped byte in the raw message.
  {
    std::fstream f(pa, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);
    f.put('\x7f');
  }
  {
    std::fstream f(pb, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(pb) - 3));
    f.put('\x01');
  }
  auto list = q->list();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_TRUE((*list)[0].damaged);
  EXPECT_NE((*list)[0].damage.find("checksum"), std::string::npos) << (*list)[0].damage;
  EXPECT_FALSE((*list)[1].damaged);  // list reads only the meta
  auto all = q->retryAll();
  EXPECT_EQ(*all, std::vector<std::string>{b.id.toString()});  // the damaged one stays
  auto loaded = q->loadRetry(b.id.toString() + ".mxq");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().errorClass(), ErrorClass::kPermanentBackend);
  ASSERT_TRUE(q->setAside(b.id.toString() + ".mxq").ok());
  EXPECT_TRUE(q->inbox()->empty());
  EXPECT_TRUE(fs::exists(pb + ".damaged"));
  // A truncated file.
  fs::resize_file(pa, 10);
  list = q->list();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_TRUE((*list)[0].damaged);
}

TEST(Quarantine, OnlyTheOwnerRemovesTemporaries) {
  TempDir t;
  openQ(t.sub("q"));
  std::ofstream(t.sub("q/.tmp-01HF0000000000000000000000-7")) << "partial";
  openQ(t.sub("q"), false);  // the CLI
  EXPECT_TRUE(fs::exists(t.sub("q/.tmp-01HF0000000000000000000000-7")));
  EXPECT_TRUE(openQ(t.sub("q"))->list()->empty());
  EXPECT_FALSE(fs::exists(t.sub("q/.tmp-01HF0000000000000000000000-7")));
}

TEST(QuarantineCli, ListTableAndJsonThenRetry) {
  TempDir t;
  std::ostringstream out, err;
  // No directory yet: empty, and nothing is created by listing.
  EXPECT_EQ(runQuarantineList(t.sub("q"), false, out, err), 0);
  EXPECT_NE(out.str().find("is empty"), std::string::npos);
  EXPECT_FALSE(fs::exists(t.sub("q")));
  auto q = openQ(t.sub("q"));
  Envelope e = makeEnvelope(6);
  ASSERT_TRUE(q->put(e, "raw", failure(3), "spool lane 0 sequence 1", 0).ok());
  out.str("");
  EXPECT_EQ(runQuarantineList(t.sub("q"), false, out, err), 0);
  std::string table = out.str();
  EXPECT_NE(table.find("ID"), std::string::npos);
  EXPECT_NE(table.find(e.id.toString()), std::string::npos);
  EXPECT_NE(table.find(e.tenant), std::string::npos);
  EXPECT_NE(table.find("2023-11-14T22:13:20.123Z"), std::string::npos) << table;
  EXPECT_NE(table.find("refused \"for good\" "), std::string::npos) << table;  // newline flattened
  EXPECT_NE(table.find("1 entry"), std::string::npos);
  out.str("");
  EXPECT_EQ(runQuarantineList(t.sub("q"), true, out, err), 0);
  auto j = nlohmann::json::parse(out.str());
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["id"], e.id.toString());
  EXPECT_EQ(j[0]["tenant"], e.tenant);
  EXPECT_EQ(j[0]["attempts"], 3);
  EXPECT_EQ(j[0]["error_class"], "resource");
  EXPECT_EQ(j[0]["reason"], failure(3).reason);
  EXPECT_EQ(j[0]["size"], 3);
  EXPECT_EQ(j[0]["envelope"]["client_port"], e.client_port);
  EXPECT_FALSE(j[0]["damaged"].get<bool>());
  // Retry: an unknown id and a path are errors (exit 1), the real one is queued.
  out.str("");
  EXPECT_EQ(runQuarantineRetry(t.sub("q"), {"../../etc/passwd", e.id.toString(), "01HF0000000000000000000000"}, false,
                               out, err),
            1);
  EXPECT_NE(err.str().find("not a message id"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("no entry 01HF0000000000000000000000"), std::string::npos) << err.str();
  EXPECT_NE(out.str().find("queued " + e.id.toString()), std::string::npos);
  EXPECT_EQ(q->inbox()->size(), 1u);
  out.str("");
  EXPECT_EQ(runQuarantineRetry(t.sub("q"), {}, true, out, err), 0);
  EXPECT_NE(out.str().find("nothing to retry"), std::string::npos);
}

}  // namespace
}  // namespace mx::pipeline

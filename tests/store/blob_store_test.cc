// Tests for the BlobStore backends: local directory (durable atomic put, overwrite, get,
// exists, putFile, key safety: nothing lands outside the root, symlinks are not followed,
// no temporary files remain) and the memory test double (failure injection).
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "store/local/local_blob_store.h"
#include "store/memory/memory_blob_store.h"

namespace mx::store {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string t = (fs::temp_directory_path() / "mxstore-XXXXXX").string();
    path_ = ::mkdtemp(t.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Every file under root, temporaries in .staging included.
std::vector<std::string> allFiles(const std::string& root) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_directory()) out.push_back(fs::relative(e.path(), root).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::unique_ptr<LocalBlobStore> openLocal(const std::string& root,
                                          SyncMethod method = SyncMethod::kFilesystem) {
  auto s = LocalBlobStore::open(LocalBlobStoreOptions{root, true, method});
  EXPECT_TRUE(s.ok());
  return std::move(*s);
}

TEST(LocalBlobStore, PutGetExistsOverwrite) {
  TempDir t;
  auto store = openLocal(t.path() + "/root");
  std::string bytes("raw\0bytes\r\n\xff", 13);
  ASSERT_TRUE(store->put("acme/raw/2023/11/14/ID.eml", bytes).ok());
  auto got = store->get("acme/raw/2023/11/14/ID.eml");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, bytes);
  EXPECT_TRUE(*store->exists("acme/raw/2023/11/14/ID.eml"));
  EXPECT_FALSE(*store->exists("acme/raw/2023/11/14/other.eml"));
  EXPECT_FALSE(*store->exists("acme/raw"));  // a directory is not an object
  auto missing = store->get("nope/x");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().errorClass(), ErrorClass::kNotFound);
  ASSERT_TRUE(store->put("acme/raw/2023/11/14/ID.eml", "second").ok());
  EXPECT_EQ(*store->get("acme/raw/2023/11/14/ID.eml"), "second");
  ASSERT_TRUE(store->put("empty", "").ok());
  EXPECT_EQ(*store->get("empty"), "");
  EXPECT_GT(store->syncCount(), 3u);
  EXPECT_EQ(allFiles(t.path() + "/root"), (std::vector<std::string>{"acme/raw/2023/11/14/ID.eml", "empty"}));
}

TEST(LocalBlobStore, RejectsUnsafeKeysAndWritesNothingOutsideRoot) {
  TempDir t;
  auto store = openLocal(t.path() + "/root");
  for (std::string key : {std::string("../escape"), std::string("a/../../escape"), std::string("/etc/x"),
                          std::string(""), std::string("a//b"), std::string("a/"), std::string("a/./b"),
                          std::string("a\\..\\b"), std::string("x\0y", 3), std::string(".hidden"),
                          std::string("a/\n/b")}) {
    auto s = store->put(key, "data");
    EXPECT_FALSE(s.ok()) << testing::PrintToString(key);
    if (!s.ok()) {
      EXPECT_EQ(s.error().errorClass(), ErrorClass::kPermanentBackend);
    }
    EXPECT_FALSE(store->get(key).ok());
    EXPECT_FALSE(store->exists(key).ok());
  }
  EXPECT_TRUE(allFiles(t.path() + "/root").empty());
  EXPECT_EQ(allFiles(t.path()).size(), 0u);
}

TEST(LocalBlobStore, DoesNotFollowSymlinks) {
  TempDir t;
  auto store = openLocal(t.path() + "/root");
  fs::create_directories(t.path() + "/outside");
  fs::create_directory_symlink(t.path() + "/outside", t.path() + "/root/link");
  EXPECT_FALSE(store->put("link/x", "data").ok());
  EXPECT_TRUE(fs::is_empty(t.path() + "/outside"));
  std::ofstream(t.path() + "/outside/secret") << "s";
  fs::create_symlink(t.path() + "/outside/secret", t.path() + "/root/file");
  EXPECT_FALSE(store->get("file").ok());
}

TEST(LocalBlobStore, PutFileCopiesLargeFile) {
  TempDir t;
  auto store = openLocal(t.path() + "/root");
  std::string src = t.path() + "/src";
  std::string big(3 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131);
  std::ofstream(src, std::ios::binary).write(big.data(), static_cast<std::streamsize>(big.size()));
  ASSERT_TRUE(store->putFile("t/big.eml", src).ok());
  EXPECT_EQ(*store->get("t/big.eml"), big);
  EXPECT_FALSE(store->putFile("t/none", t.path() + "/missing").ok());
}

TEST(LocalBlobStore, ConcurrentPutsIntoNewDirectories) {
  TempDir t;
  auto store = openLocal(t.path() + "/root");
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (int i = 0; i < 50; ++i) {
        std::string key = "t" + std::to_string(i % 3) + "/raw/d" + std::to_string(i % 5) + "/" +
                          std::to_string(k) + "-" + std::to_string(i);
        ASSERT_TRUE(store->put(key, key).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  auto files = allFiles(t.path() + "/root");
  EXPECT_EQ(files.size(), 200u);
  for (const auto& f : files) {
    EXPECT_EQ(f.find(".staging"), std::string::npos) << f;  // no temporary left behind
    EXPECT_EQ(*store->get(f), f);
  }
}

// Group durability, with each way of making a batch durable.
class LocalBlobStoreSync : public ::testing::TestWithParam<SyncMethod> {};

INSTANTIATE_TEST_SUITE_P(Methods, LocalBlobStoreSync,
                         ::testing::Values(SyncMethod::kFilesystem, SyncMethod::kPerFile),
                         [](const auto& info) {
                           return info.param == SyncMethod::kFilesystem ? "Filesystem" : "PerFile";
                         });

TEST_P(LocalBlobStoreSync, UnsyncedPutsAppearAtSync) {
  TempDir t;
  auto store = openLocal(t.path() + "/root", GetParam());
  for (int i = 0; i < 30; ++i) {
    std::string key = "t/raw/d" + std::to_string(i % 4) + "/m" + std::to_string(i) + ".eml";
    ASSERT_TRUE(store->putUnsynced(key, "body " + std::to_string(i)).ok());
    EXPECT_FALSE(*store->exists(key));  // not visible before sync
  }
  ASSERT_TRUE(store->putUnsynced("t/raw/d0/m0.eml", "second").ok());  // later put wins
  uint64_t before = store->syncCount();
  ASSERT_TRUE(store->sync().ok());
  if (GetParam() == SyncMethod::kPerFile) {
    EXPECT_GE(store->syncCount() - before, 31u + 4u);  // every file, every directory
  } else {
    EXPECT_EQ(store->syncCount() - before, 2u);  // before and after the renames
  }
  for (int i = 1; i < 30; ++i) {
    EXPECT_EQ(*store->get("t/raw/d" + std::to_string(i % 4) + "/m" + std::to_string(i) + ".eml"),
              "body " + std::to_string(i));
  }
  EXPECT_EQ(*store->get("t/raw/d0/m0.eml"), "second");
  EXPECT_EQ(allFiles(t.path() + "/root").size(), 30u);  // no temporaries
  EXPECT_TRUE(store->sync().ok());  // nothing pending
}

TEST_P(LocalBlobStoreSync, FailedSyncLeavesNoTemporaries) {
  TempDir t;
  auto store = openLocal(t.path() + "/root", GetParam());
  fs::create_directories(t.path() + "/root/t/blocked");  // a directory where a file should go
  ASSERT_TRUE(store->putUnsynced("t/a", "a").ok());
  ASSERT_TRUE(store->putUnsynced("t/blocked", "b").ok());
  ASSERT_TRUE(store->putUnsynced("t/c", "c").ok());
  EXPECT_FALSE(store->sync().ok());
  for (const auto& f : allFiles(t.path() + "/root")) EXPECT_EQ(f.find(".staging"), std::string::npos) << f;
  EXPECT_FALSE(*store->exists("t/c"));
}

TEST(LocalBlobStore, StaleTemporariesAreRemovedOnOpen) {
  TempDir t;
  { auto store = openLocal(t.path() + "/root"); }
  std::string old_tmp = t.path() + "/root/.staging/00000000000000aa.tmp";
  std::string new_tmp = t.path() + "/root/.staging/00000000000000bb.tmp";
  std::ofstream(old_tmp) << "crashed put";
  std::ofstream(new_tmp) << "another instance, still writing";
  fs::last_write_time(old_tmp, fs::file_time_type::clock::now() - std::chrono::hours(2));
  auto store = openLocal(t.path() + "/root");
  EXPECT_FALSE(fs::exists(old_tmp));
  EXPECT_TRUE(fs::exists(new_tmp));
}

TEST_P(LocalBlobStoreSync, UnsyncedPutsDroppedOnDestruction) {
  TempDir t;
  {
    auto store = openLocal(t.path() + "/root", GetParam());
    ASSERT_TRUE(store->putUnsynced("t/a", "a").ok());
  }
  EXPECT_TRUE(allFiles(t.path() + "/root").empty());
}

TEST(MemoryBlobStore, UnsyncedAndInjectedSyncFailure) {
  MemoryBlobStore m;
  ASSERT_TRUE(m.putUnsynced("a/b", "x").ok());
  EXPECT_FALSE(*m.exists("a/b"));
  ASSERT_TRUE(m.sync().ok());
  EXPECT_TRUE(*m.exists("a/b"));
  m.failNextSyncs(1);
  ASSERT_TRUE(m.putUnsynced("a/c", "y").ok());
  EXPECT_FALSE(m.sync().ok());
  EXPECT_TRUE(m.sync().ok());
  EXPECT_FALSE(*m.exists("a/c"));
}

TEST(MemoryBlobStore, PutGetAndInjectedFailures) {
  MemoryBlobStore m;
  ASSERT_TRUE(m.put("a/b", "x").ok());
  EXPECT_EQ(*m.get("a/b"), "x");
  EXPECT_TRUE(*m.exists("a/b"));
  EXPECT_FALSE(m.put("../a", "x").ok());
  m.failNextPuts(2);
  EXPECT_FALSE(m.put("a/c", "y").ok());
  EXPECT_FALSE(m.put("a/c", "y").ok());
  EXPECT_TRUE(m.put("a/c", "y").ok());
  EXPECT_EQ(m.keys(), (std::vector<std::string>{"a/b", "a/c"}));
  EXPECT_EQ(m.putCount(), 2u);
  EXPECT_EQ(m.get("zz").error().errorClass(), ErrorClass::kNotFound);
}

}  // namespace
}  // namespace mx::store

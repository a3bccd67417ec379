// mime/cli.cc — see cli.h. Workers (--jobs) each read, parse and render whole messages; the
// calling thread writes the documents in input order as they complete. At most a window of
// 8 documents per worker waits ahead of the writer, so memory stays bounded whatever the
// number of files.
// Trust: file contents are untrusted (parse() handles any bytes); a file that cannot be read
// is reported, not fatal. Paths come from the operator.
#include "mime/cli.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <sstream>
#include <system_error>
#include <thread>

#include "mime/json.h"
#include "mime/parser.h"

namespace mx::mime {
namespace {

// The whole file in one read where possible (an istreambuf_iterator copy costs a virtual call
// per byte: a fifth of the CLI's time on a 200 MB corpus).
bool readAll(const std::string& path, std::string& out) {
  out.clear();
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    out = ss.str();
    return !std::cin.bad();
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    ::close(fd);
    return false;
  }
  // Regular files: their size; pipes and the like grow as they are read.
  size_t cap = S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) + 1 : size_t{64} * 1024;
  out.resize(cap);
  size_t got = 0;
  for (;;) {
    if (got == out.size()) out.resize(out.size() * 2);
    const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(got);
  return true;
}

// Expands directories into their regular files (recursively, sorted by path, skipping names
// that start with '.'); other arguments are kept as given, in order.
bool expandInputs(const std::vector<std::string>& args, std::vector<std::string>& files,
                  std::ostream& err) {
  bool ok = true;
  for (const auto& a : args) {
    std::error_code ec;
    if (a != "-" && std::filesystem::is_directory(a, ec)) {
      std::vector<std::string> found;
      std::filesystem::recursive_directory_iterator it(a, ec), end;
      for (; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (!name.empty() && name[0] == '.') {
          if (it->is_directory(ec)) it.disable_recursion_pending();
          continue;
        }
        if (it->is_regular_file(ec)) found.push_back(it->path().string());
      }
      if (ec) {
        err << "mxgate parse: cannot list " << a << ": " << ec.message() << "\n";
        ok = false;
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(a);
    }
  }
  return ok;
}

struct Job {
  bool done = false;
  bool read_ok = false;
  std::string doc;
};

template <typename T>
bool numberArg(std::string_view arg, std::string_view prefix, T* v) {
  if (arg.substr(0, prefix.size()) != prefix) return false;
  std::string_view num = arg.substr(prefix.size());
  T x{};
  auto r = std::from_chars(num.data(), num.data() + num.size(), x);
  if (r.ec != std::errc() || r.ptr != num.data() + num.size()) return false;
  *v = x;
  return true;
}

}  // namespace

const char* parseCommandUsage() {
  return "usage: mxgate parse [--pretty] [--summary] [--offsets] [--trust=AUTHSERV_ID]...\n"
         "                    [--max-depth=N] [--max-parts=N] [--max-header-bytes=N]\n"
         "                    [--max-size=N] [--jobs=N] FILE|DIR... | -\n"
         "Prints one JSON document per message (schemas/parsed-email.schema.json), in input\n"
         "order; a DIR stands for its files (recursively, sorted). --jobs: worker threads\n"
         "(default: all cores).\n";
}

int runParseCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  ParseOptions opt;
  JsonContext ctx;
  bool summary = false;
  unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::string> inputs;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string_view v = a;
    if (v == "--pretty") {
      ctx.pretty = true;
    } else if (v == "--summary") {
      summary = true;
    } else if (v == "--offsets") {
      ctx.offsets = true;
    } else if (v.substr(0, 8) == "--trust=") {
      opt.trusted_authserv_ids.emplace_back(v.substr(8));
    } else if (numberArg(v, "--max-depth=", &opt.max_depth) ||
               numberArg(v, "--max-parts=", &opt.max_parts) ||
               numberArg(v, "--max-header-bytes=", &opt.max_header_bytes) ||
               numberArg(v, "--max-size=", &opt.max_total_size)) {
      continue;
    } else if (v == "--jobs" || v.substr(0, 7) == "--jobs=") {
      std::string n = v == "--jobs" ? (i + 1 < args.size() ? args[++i] : "") : a;
      if (v == "--jobs") n.insert(0, "--jobs=");
      if (!numberArg(std::string_view(n), "--jobs=", &jobs) || jobs == 0) {
        err << "mxgate parse: --jobs needs a number of at least 1\n" << parseCommandUsage();
        return 2;
      }
    } else if (v == "-h" || v == "--help") {
      out << parseCommandUsage();
      return 0;
    } else if (v.size() > 1 && v[0] == '-') {
      err << "mxgate parse: unknown option " << a << "\n" << parseCommandUsage();
      return 2;
    } else {
      inputs.push_back(a);
    }
  }
  if (inputs.empty()) {
    err << parseCommandUsage();
    return 2;
  }
  std::vector<std::string> files;
  int rc = expandInputs(inputs, files, err) ? 0 : 1;

  auto work = [&](const std::string& path, Job& job, std::string& raw) {
    job.read_ok = readAll(path, raw);
    if (!job.read_ok) return;
    ParsedMessage m = parse(raw, opt);
    if (summary) {
      appendSummaryJson(m, ctx, job.doc);
      if (ctx.pretty) job.doc = prettyJson(job.doc);
    } else {
      appendJson(m, ctx, job.doc);
    }
    job.doc += '\n';
  };
  auto emit = [&](size_t i, Job& job) {
    if (!job.read_ok) {
      err << "mxgate parse: cannot read " << files[i] << "\n";
      rc = 1;
      return;
    }
    out.write(job.doc.data(), static_cast<std::streamsize>(job.doc.size()));
  };

  jobs = static_cast<unsigned>(std::min<size_t>(jobs, files.size()));
  if (jobs <= 1) {
    std::string raw;
    for (size_t i = 0; i < files.size(); ++i) {
      Job job;
      work(files[i], job, raw);
      emit(i, job);
    }
    out.flush();
    return rc;
  }

  // Workers take the next file while it is within the window ahead of the writer; the
  // writer (this thread) waits for the file it must print next.
  std::vector<Job> results(files.size());
  std::mutex mu;
  std::condition_variable ready, room;
  size_t next = 0, written = 0;
  const size_t window = static_cast<size_t>(jobs) * 8;
  std::vector<std::thread> pool;
  pool.reserve(jobs);
  for (unsigned t = 0; t < jobs; ++t) {
    pool.emplace_back([&] {
      std::string raw;
      for (;;) {
        size_t i;
        {
          std::unique_lock<std::mutex> lock(mu);
          room.wait(lock, [&] { return next >= files.size() || next < written + window; });
          if (next >= files.size()) return;
          i = next++;
        }
        Job job;
        work(files[i], job, raw);
        {
          std::lock_guard<std::mutex> lock(mu);
          results[i] = std::move(job);
          results[i].done = true;
        }
        ready.notify_all();
      }
    });
  }
  for (size_t i = 0; i < files.size(); ++i) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu);
      ready.wait(lock, [&] { return results[i].done; });
      job = std::move(results[i]);
      results[i] = Job();
      ++written;
    }
    room.notify_all();
    emit(i, job);
  }
  for (auto& t : pool) t.join();
  out.flush();
  return rc;
}

}  // namespace mx::mime

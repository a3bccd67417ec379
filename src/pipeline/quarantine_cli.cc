// pipeline/quarantine_cli.cc — see quarantine_cli.h.
#include "pipeline/quarantine_cli.h"

#include <sys/stat.h>

#include <cstdio>

#include "core/json_writer.h"
#include "core/time_format.h"
#include "pipeline/quarantine.h"

namespace mx::pipeline {
namespace {

bool isDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// One line of a reason, for the table: control characters become spaces, cut at `max`.
std::string oneLine(std::string s, size_t max) {
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  if (s.size() > max) s = s.substr(0, max - 3) + "...";
  return s;
}

std::string pad(std::string s, size_t w) {
  if (s.size() < w) s.append(w - s.size(), ' ');
  return s;
}

}  // namespace

int runQuarantineList(const std::string& dir, bool json, std::ostream& out, std::ostream& err) {
  std::vector<QuarantineEntry> entries;
  if (isDir(dir)) {
    auto q = Quarantine::open({dir, true, false});
    if (!q.ok()) {
      err << "mxgate quarantine: " << q.error().message() << "\n";
      return 1;
    }
    auto l = (*q)->list();
    if (!l.ok()) {
      err << "mxgate quarantine: " << l.error().message() << "\n";
      return 1;
    }
    entries = std::move(*l);
  }
  if (json) {
    std::string s;
    JsonWriter w(s);
    w.beginArray();
    for (const auto& e : entries) {
      w.beginObject();
      w.field("id", e.id);
      w.field("damaged", e.damaged);
      if (e.damaged) {
        w.field("reason", e.damage);
        w.endObject();
        continue;
      }
      w.field("tenant", e.envelope.tenant);
      w.field("received_at", formatRfc3339(e.envelope.received_at));
      w.field("size", e.size);
      w.field("error_class", errorClassName(e.failure.error_class));
      w.field("reason", e.failure.reason);
      w.field("attempts", static_cast<uint64_t>(e.failure.attempts));
      w.field("retries", static_cast<uint64_t>(e.retries));
      w.field("first_failure", formatRfc3339(e.failure.first_failure));
      w.field("last_failure", formatRfc3339(e.failure.last_failure));
      w.field("origin", e.origin);
      w.key("envelope");
      writeEnvelopeJson(w, e.envelope);
      w.endObject();
    }
    w.endArray();
    out << s << "\n";
    return 0;
  }
  if (entries.empty()) {
    out << "quarantine " << dir << " is empty\n";
    return 0;
  }
  out << pad("ID", 28) << pad("TENANT", 16) << pad("RECEIVED_AT", 26) << pad("ATTEMPTS", 10) << "REASON\n";
  for (const auto& e : entries) {
    if (e.damaged) {
      out << pad(e.id, 28) << pad("-", 16) << pad("-", 26) << pad("-", 10) << "DAMAGED: " << oneLine(e.damage, 200)
          << "\n";
      continue;
    }
    out << pad(e.id, 28) << pad(oneLine(e.envelope.tenant, 15), 16) << pad(formatRfc3339(e.envelope.received_at), 26)
        << pad(std::to_string(e.failure.attempts), 10) << oneLine(e.failure.reason, 200) << "\n";
  }
  out << entries.size() << (entries.size() == 1 ? " entry" : " entries") << " in " << dir << "\n";
  return 0;
}

int runQuarantineRetry(const std::string& dir, const std::vector<std::string>& ids, bool all, std::ostream& out,
                       std::ostream& err) {
  if (!isDir(dir)) {
    err << "mxgate quarantine: " << dir << " does not exist: nothing is quarantined\n";
    return 1;
  }
  auto q = Quarantine::open({dir, true, false});
  if (!q.ok()) {
    err << "mxgate quarantine: " << q.error().message() << "\n";
    return 1;
  }
  int rc = 0;
  size_t queued = 0;
  if (all) {
    auto moved = (*q)->retryAll();
    if (!moved.ok()) {
      err << "mxgate quarantine: " << moved.error().message() << "\n";
      return 1;
    }
    for (const auto& id : *moved) out << "queued " << id << " for retry\n";
    queued = moved->size();
  }
  for (const auto& id : ids) {
    Status s = (*q)->retry(id);
    if (!s.ok()) {
      err << "mxgate quarantine: " << s.error().message() << "\n";
      rc = 1;
      continue;
    }
    out << "queued " << id << " for retry\n";
    ++queued;
  }
  if (queued > 0) {
    out << queued << (queued == 1 ? " entry" : " entries")
        << " in " << (*q)->retryDir() << ": a running mxgate serve takes them within a second, else the next start\n";
  } else if (all) {
    out << "nothing to retry in " << dir << "\n";
  }
  return rc;
}

}  // namespace mx::pipeline

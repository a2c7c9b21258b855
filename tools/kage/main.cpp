// kage: back up, restore and verify Redis Clusters. See `kage --help`.
#include "controller_command.hpp"
#include "doctor.hpp"
#include "heal_command.hpp"
#include "hints.hpp"
#include "job_options.hpp"
#include "kube.hpp"
#include "progress.hpp"
#include "run.hpp"
#include "settings.hpp"

#include <kage/base/error.hpp>
#include <kage/engine/backup.hpp>
#include <kage/engine/restore.hpp>
#include <kage/engine/snapshot.hpp>
#include <kage/engine/verify.hpp>
#include <kage/storage/backup_id.hpp>
#include <kage/storage/catalog.hpp>
#include <kage/storage/locations.hpp>
#include <kage/storage/multi_store.hpp>
#include <kage/storage/s3.hpp>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include <unistd.h>
#include <csignal>
#include <cstdio>
#include <iostream>

extern char** environ;

namespace kage::cli {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

std::map<std::string, std::string> environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string_view::npos) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return env;
}

// {"ts":"2024-05-01T12:00:00.123Z","level":"info","component":"run","msg":"..."}
std::string json_log_line(log_level level, std::string_view component, std::string_view message) {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  const std::time_t t = static_cast<std::time_t>(ms.count() / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[64];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms.count() % 1000));
  json::object o;
  o["ts"] = ts;
  o["level"] = to_string(level);
  o["component"] = component;
  o["msg"] = message;
  return json::serialize(o) + "\n";
}

// Text for a terminal: control bytes a server put into its error text (escape sequences that
// could rewrite the screen) are shown as \xNN; newlines and tabs stay.
std::string terminal_safe(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

logger make_logger(const settings& s) {
  log_level min = log_level::info;
  if (s.log_level == "debug") min = log_level::debug;
  if (s.log_level == "warn") min = log_level::warn;
  if (s.log_level == "error") min = log_level::error;
  if (s.log_format == "json") {
    return logger(
        [](log_level level, std::string_view component, std::string_view message) {
          const std::string line = json_log_line(level, component, message);
          std::fwrite(line.data(), 1, line.size(), stderr);
        },
        min);
  }
  return logger(
      [](log_level level, std::string_view component, std::string_view message) {
        std::string line = "kage: " + std::string(to_string(level)) + ": ";
        if (!component.empty()) line += std::string(component) + ": ";
        line += terminal_safe(message) + "\n";
        std::fwrite(line.data(), 1, line.size(), stderr);
      },
      min);
}

// One location a command reads or writes: a local directory, or S3 (s3://bucket/prefix).
// Credentials: environment or config file first, then the mounted secret directory for
// whatever is still missing.
std::shared_ptr<storage::store> open_store_for(const settings& s, const std::string& location,
                                               asio::any_io_executor ex, const logger& log,
                                               std::shared_ptr<std::uint64_t> s3_retries = {}) {
  storage::store_options o;
  o.executor = ex;
  o.log = log;
  o.retries = std::move(s3_retries);
  o.s3.endpoint = s.s3_endpoint;
  o.s3.region = s.s3_region;
  o.s3.bucket = s.s3_bucket;
  o.s3.ca_file = s.s3_ca_file;
  o.s3.verify = !s.s3_insecure;
  o.s3.part_size = static_cast<std::size_t>(s.part_size_mb) << 20;
  o.s3.parts_in_flight = s.parts_in_flight;
  o.s3.total_parts_in_flight = s.total_parts_in_flight;
  o.s3.checksum = s.s3_checksum;
  o.s3.credentials.access_key_id = s.aws_access_key_id;
  o.s3.credentials.secret_access_key = s.aws_secret_access_key.value_or("");
  o.s3.credentials.session_token = s.aws_session_token.value_or("");
  if (location.starts_with("s3://") && o.s3.credentials.empty()) {
    auto mounted = storage::read_credentials_dir(s.credentials_dir);
    auto& c = o.s3.credentials;
    if (c.access_key_id.empty()) c.access_key_id = mounted.access_key_id;
    if (c.secret_access_key.empty()) c.secret_access_key = mounted.secret_access_key;
    if (c.session_token.empty()) c.session_token = mounted.session_token;
  }
  return storage::open_store(location, o);
}

// Every location (store_locations), in order of preference.
std::vector<std::shared_ptr<storage::store>> open_stores(
    const settings& s, asio::any_io_executor ex, const logger& log,
    std::shared_ptr<std::uint64_t> s3_retries = {}) {
  std::vector<std::shared_ptr<storage::store>> out;
  for (const auto& l : store_locations(s)) out.push_back(open_store_for(s, l, ex, log, s3_retries));
  return out;
}

// Where a backup is written: every location at once (one pass over Redis, teed).
std::shared_ptr<storage::multi_store> open_multi_store(
    const settings& s, asio::any_io_executor ex, const logger& log,
    std::shared_ptr<std::uint64_t> s3_retries = {}) {
  return std::make_shared<storage::multi_store>(open_stores(s, ex, log, std::move(s3_retries)),
                                                log);
}

// The store a reading command uses alone (list, prune and restore handle several themselves).
struct read_plan {
  std::vector<std::shared_ptr<storage::store>> order;  // preferred first
  std::string id;                                      // s.id, or the newest complete one
};

// With several locations: those where the backup is complete, first first (local before S3 by
// default). When none has it, every location: the first one's error says what is missing.
asio::awaitable<read_plan> async_read_plan(settings s, logger log) {
  read_plan plan;
  plan.id = s.id;
  auto stores = open_stores(s, co_await asio::this_coro::executor, log);
  if (stores.size() > 1) {
    const auto listings = co_await storage::async_list_locations(stores, log);
    std::string id = s.id;
    for (const std::size_t i : storage::read_order(listings, id)) plan.order.push_back(stores[i]);
    if (!plan.order.empty()) plan.id = id;
  }
  if (plan.order.empty()) plan.order = std::move(stores);
  co_return plan;
}

// "a, b" and the failed copies' errors, after a job wrote to several locations.
struct copies {
  std::vector<std::string> complete;
  std::vector<std::pair<std::string, std::string>> failed;  // location, error
};

copies copies_of(const storage::multi_store& m) {
  copies c;
  for (const auto& l : m.locations()) {
    if (l.failure)
      c.failed.emplace_back(l.where->location(), describe(l.failure));
    else
      c.complete.push_back(l.where->location());
  }
  return c;
}

json::array copies_json(const copies& c) {
  json::array a;
  for (const auto& l : c.complete) a.push_back(json::object{{"location", l}, {"complete", true}});
  for (const auto& [l, error] : c.failed)
    a.push_back(json::object{{"location", l}, {"complete", false}, {"error", error}});
  return a;
}

// "LOC/ID[, LOC2/ID]", then a line per failed copy on stderr. The exit code: 0, or store's
// when a copy failed (the backup is usable from the others, but not everywhere it was asked).
int report_copies(const copies& c, const std::string& id, std::string& where) {
  for (const auto& l : c.complete) where += (where.empty() ? "" : ", ") + l + "/" + id;
  for (const auto& [l, error] : c.failed)
    std::cerr << "kage: error: the copy in " << l << " failed (the others are complete): " << error
              << "\n";
  return c.failed.empty() ? 0 : static_cast<int>(exit_code::store);
}

// "90s", "30m", "12h", "7d" -> milliseconds.
std::int64_t parse_age(const std::string& text, const char* flag) {
  std::int64_t n = 0;
  std::size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    n = n * 10 + (text[i] - '0');
    ++i;
  }
  const std::string unit = text.substr(i);
  const std::int64_t scale = unit == "s"   ? 1000
                             : unit == "m" ? 60'000
                             : unit == "h" ? 3'600'000
                             : unit == "d" ? 86'400'000
                             : unit == "w" ? 604'800'000
                                           : 0;
  if (i == 0 || scale == 0) {
    fail(exit_code::usage,
         std::string(flag) + ": expected an age like 90s, 30m, 12h, 7d or 2w, got '" + text + "'");
  }
  return n * scale;
}

void print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
}

double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string rate(std::uint64_t n, double seconds) {
  return with_commas(seconds > 0 ? static_cast<std::uint64_t>(static_cast<double>(n) / seconds)
                                 : n);
}

// Built outside the coroutine: GCC 12 mishandles lambdas created in coroutine bodies.
progress_display::render_fn backup_renderer(std::shared_ptr<engine::backup_progress> progress) {
  return [progress](double elapsed) {
    std::vector<std::string> lines;
    for (const auto& sh : progress->shards) {
      std::string l = "  " + sh.master;
      if (sh.read_from != sh.master) l += " (from " + sh.read_from + ")";
      l += "  " + with_commas(sh.keys) + " keys  " + human_bytes(sh.bytes) + "  " +
           rate(sh.keys, elapsed) + " keys/s";
      if (sh.restarts) l += "  restarted " + std::to_string(sh.restarts) + "x";
      if (sh.done) l += "  done";
      lines.push_back(l);
    }
    return lines;
  };
}

// Built outside the coroutine: GCC 12 mishandles lambdas created in coroutine bodies.
progress_display::render_fn restore_renderer(std::shared_ptr<engine::restore_progress> progress) {
  return [progress](double elapsed) {
    std::vector<std::string> lines;
    lines.push_back("  read " + human_bytes(progress->bytes_read) + " of " +
                    human_bytes(progress->bytes_total) + ", " +
                    with_commas(progress->records_read) + " records, " +
                    rate(progress->records_read, elapsed) + " records/s");
    for (const auto& t : progress->targets) {
      lines.push_back("  " + t.master + "  " + with_commas(t.counts.restored) + " restored  " +
                      with_commas(t.counts.present) + " present");
    }
    return lines;
  };
}

// Built outside the coroutine: GCC 12 mishandles lambdas created in coroutine bodies.
progress_display::render_fn verify_renderer(std::shared_ptr<engine::verify_progress> progress) {
  return [progress](double) {
    return std::vector<std::string>{"  verified " + human_bytes(progress->bytes_read) + " of " +
                                    human_bytes(progress->bytes_total) + ", " +
                                    with_commas(progress->records) + " records"};
  };
}

// A job on the cluster (backup, restore, snapshot) shown by the progress display while it runs:
// the manifest it wrote or read, and the seconds it took.
template <class Options, class Progress>
using cluster_job = asio::awaitable<storage::manifest> (*)(engine::redis_target, Options,
                                                           std::shared_ptr<storage::store>,
                                                           std::shared_ptr<Progress>, logger);

template <class Options, class Progress>
asio::awaitable<std::pair<storage::manifest, double>> async_run_shown(
    settings s, cluster_job<Options, Progress> job, Options options,
    std::shared_ptr<storage::store> store, std::shared_ptr<Progress> progress,
    progress_display::render_fn render, logger log) {
  auto target = engine::make_target(s.nodes, redis_config_from(s), sentinel_options_from(s));
  const auto started = std::chrono::steady_clock::now();
  storage::manifest m;
  {
    progress_display display(co_await asio::this_coro::executor, !s.quiet && !s.json, render);
    m = co_await job(target, std::move(options), store, progress, log);
  }
  co_return std::pair{std::move(m), since(started)};
}

// With --pods: how many pods' nodes.conf the backup holds, and the pods whose file is missing.
struct pod_summary {
  std::size_t read = 0;
  std::vector<std::string> missing;
};

pod_summary pods_of(const storage::manifest& m) {
  pod_summary p;
  for (const auto& c : m.pod_node_configs) {
    if (c.error.empty())
      ++p.read;
    else
      p.missing.push_back(c.pod);
  }
  return p;
}

void add_pods_json(json::object& out, const storage::manifest& m) {
  if (m.pod_node_configs.empty()) return;
  const pod_summary p = pods_of(m);
  out["pod_nodes_conf"] = p.read;
  json::array missing;
  for (const auto& pod : p.missing) missing.push_back(json::value(pod));
  out["pods_without_nodes_conf"] = std::move(missing);
}

std::string pods_text(const storage::manifest& m) {
  if (m.pod_node_configs.empty()) return "";
  const pod_summary p = pods_of(m);
  std::string out = ", the nodes.conf of " + std::to_string(p.read) + " pod(s)";
  if (!p.missing.empty()) {
    out += " (missing for";
    for (const auto& pod : p.missing) out += " " + pod;
    out += ")";
  }
  return out;
}

asio::awaitable<int> run_backup(settings s, logger log) {
  auto store = open_multi_store(s, co_await asio::this_coro::executor, log);
  auto progress = std::make_shared<engine::backup_progress>();
  auto options = backup_options_from(s);
  if (!s.pod_selector.empty()) options.pod_files = co_await async_read_pod_files(s, log);
  const auto [m, secs] = co_await async_run_shown(s, engine::async_backup, std::move(options),
                                                  std::shared_ptr<storage::store>(store), progress,
                                                  backup_renderer(progress), log);
  const copies c = copies_of(*store);
  std::string where;
  const int code = report_copies(c, m.id, where);
  if (s.json) {
    json::object out{{"result", code ? "partial" : "ok"},
                     {"command", "backup"},
                     {"id", m.id},
                     {"location", c.complete.front()},
                     {"copies", copies_json(c)},
                     {"keys", m.total_keys},
                     {"vanished", m.total_vanished},
                     {"bytes", m.total_bytes},
                     {"shards", m.objects.size()},
                     {"seconds", secs}};
    add_pods_json(out, m);
    print(json::serialize(out) + "\n");
  } else {
    print("backup " + m.id + " complete: " + with_commas(m.total_keys) + " keys from " +
          std::to_string(m.objects.size()) + " master(s), " + human_bytes(m.total_bytes) + " in " +
          seconds_text(secs) + " (" + rate(m.total_keys, secs) + " keys/s)" +
          (m.total_vanished ? ", " + with_commas(m.total_vanished) + " vanished during the scan"
                            : "") +
          pods_text(m) + " -> " + where + "\n");
  }
  co_return code;
}

// Restores from the first location that has the backup complete; when reading that copy fails
// (store or integrity), from the next. A restore never overwrites unless --replace, so reading
// again from another copy is safe.
struct restored {
  storage::manifest m;
  double secs = 0;
  std::shared_ptr<engine::restore_progress> progress;
};

asio::awaitable<restored> async_restore_from_copies(settings s, logger log) {
  const read_plan plan = co_await async_read_plan(s, log);
  auto options = restore_options_from(s);
  options.id = plan.id;
  for (std::size_t i = 0;; ++i) {
    auto progress = std::make_shared<engine::restore_progress>();
    std::pair<storage::manifest, double> result;
    std::exception_ptr e;
    try {
      result = co_await async_run_shown(s, engine::async_restore, options, plan.order[i], progress,
                                        restore_renderer(progress), log);
    } catch (...) {
      e = std::current_exception();
    }
    if (!e) co_return restored{std::move(result.first), result.second, progress};
    if (i + 1 == plan.order.size() || !try_next_copy(e)) std::rethrow_exception(e);
    log.warn(plan.order[i]->location(),
             "reading the backup failed, restoring from the next location: " + describe(e));
  }
}

asio::awaitable<int> run_restore(settings s, logger log) {
  const restored r = co_await async_restore_from_copies(s, log);
  const auto& m = r.m;
  const double secs = r.secs;
  const auto& progress = r.progress;
  const auto& t = progress->totals;
  if (s.json) {
    json::array targets;
    for (const auto& tp : progress->targets) {
      targets.push_back(json::object{
          {"master", tp.master}, {"restored", tp.counts.restored}, {"present", tp.counts.present}});
    }
    json::object out{{"result", "ok"},
                     {"command", "restore"},
                     {"id", m.id},
                     {"dry_run", s.dry_run},
                     {"replace", s.replace},
                     {"restored", t.restored},
                     {"present", t.present},
                     {"expired", t.expired},
                     {"filtered", t.filtered},
                     {"functions_restored", t.functions_restored},
                     {"functions_present", t.functions_present},
                     {"targets", targets},
                     {"seconds", secs}};
    print(json::serialize(out) + "\n");
  } else {
    std::string line = s.dry_run ? "dry run of restore " : "restore ";
    line += m.id + (s.dry_run ? ": would restore " : ": restored ") + with_commas(t.restored) +
            " keys, " + with_commas(t.present) + " already present" +
            (s.replace ? "" : " (kept; --replace overwrites)") + ", " + with_commas(t.expired) +
            " expired (skipped)";
    if (!s.patterns.empty()) line += ", " + with_commas(t.filtered) + " not matching --pattern";
    if (t.functions_restored || t.functions_present) {
      line += ", function libraries: " + with_commas(t.functions_restored) + " restored, " +
              with_commas(t.functions_present) + " present";
    }
    line += " in " + seconds_text(secs) + "\n";
    print(line);
  }
  co_return 0;
}

std::string complete_in_text(const storage::merged_entry& b,
                             const std::vector<std::shared_ptr<storage::store>>& stores) {
  std::string out;
  for (const std::size_t i : b.complete_in) out += (out.empty() ? "" : ",") + stores[i]->location();
  return out;
}

// One row per backup across the locations (merge_listings): with several, where each is
// complete; a location that cannot be listed is skipped with a warning.
asio::awaitable<int> run_list(settings s, logger log) {
  auto stores = open_stores(s, co_await asio::this_coro::executor, log);
  // With one location its error is the command's; with several, one that fails is skipped.
  std::vector<storage::location_listing> listings =
      co_await storage::async_list_locations(stores, log);
  bool any = false;
  for (const auto& l : listings) any = any || l.has_value();
  if (!any) {
    auto again = co_await storage::async_list_backups(*stores[0]);  // throws what went wrong
    listings[0] = std::move(again);
  }
  const auto backups = storage::merge_listings(listings);
  if (s.json) {
    json::array a;
    for (const auto& [b, complete_in] : backups) {
      json::object o{
          {"id", b.id}, {"complete", b.complete}, {"failed", b.failed}, {"bytes", b.bytes}};
      json::array locations;
      for (const std::size_t i : complete_in)
        locations.push_back(json::value(stores[i]->location()));
      o["locations"] = std::move(locations);
      if (b.meta) {
        o["keys"] = b.meta->total_keys;
        o["kind"] = b.meta->kind;
        o["shards"] = b.meta->objects.size();
        o["redis_version"] = b.meta->redis_version;
        o["finished_at"] = b.meta->finished_at;
      } else {
        o["problem"] = b.problem;
      }
      a.push_back(std::move(o));
    }
    print(json::serialize(a) + "\n");
    co_return 0;
  }
  // Left by runs that were killed: they take space, and only prune removes them. A location
  // that cannot be listed was reported above.
  std::vector<storage::leftover> leftovers;
  for (const auto& st : stores) {
    try {
      auto found = co_await st->async_list_leftovers();
      leftovers.insert(leftovers.end(), found.begin(), found.end());
    } catch (const failure&) {
    }
  }
  const std::string leftover_note =
      leftovers.empty() ? ""
                        : std::to_string(leftovers.size()) +
                              " temporary file(s) or unfinished upload(s) left by interrupted "
                              "runs, e.g. " +
                              storage::describe_leftover(leftovers.front()) +
                              "; 'kage prune' removes those older than --grace\n";
  if (backups.empty()) {
    std::string all;
    for (const auto& st : stores) all += (all.empty() ? "" : ", ") + st->location();
    print("no backups in " + all + "\n" + leftover_note);
    co_return 0;
  }
  const bool several = stores.size() > 1;
  char line[512];
  std::snprintf(line, sizeof line, "%-22s %-10s %-8s %14s %10s  %s%s\n", "ID", "STATUS", "KIND",
                "KEYS", "SIZE", "REDIS", several ? "  COMPLETE IN" : "");
  print(line);
  for (const auto& row : backups) {
    const auto& b = row.entry;
    std::snprintf(
        line, sizeof line, "%-22s %-10s %-8s %14s %10s  %s%s\n", b.id.c_str(),
        b.complete ? "complete"
        : b.failed ? "failed"
                   : "incomplete",
        b.meta ? b.meta->kind.c_str() : "-",
        b.meta && b.meta->kind != "snapshot" ? with_commas(b.meta->total_keys).c_str() : "-",
        human_bytes(b.bytes).c_str(), b.meta ? b.meta->redis_version.c_str() : b.problem.c_str(),
        several ? ("  " + complete_in_text(row, stores)).c_str() : "");
    print(line);
  }
  print(leftover_note);
  co_return 0;
}

// With --pods: each pod's own nodes.conf, or why it is missing.
std::string describe_pod_files(const storage::manifest& m) {
  std::string out;
  for (const auto& c : m.pod_node_configs) {
    out += "  " + (c.error.empty() ? c.name : "pods/" + c.pod) + "  pod " + c.pod + " " +
           (c.error.empty() ? "node " + (c.node_id.empty() ? "(none)" : c.node_id) + "  " +
                                  human_bytes(c.bytes) + "  from " + c.path
                            : "MISSING: " + c.error) +
           "\n";
  }
  return out;
}

std::string describe_snapshot(const storage::manifest& m, const std::string& location) {
  std::string out;
  out += "backup        " + m.id + " (snapshot, format " + std::to_string(m.format) + ")\n";
  out += "location      " + location + "/" + m.id + "\n";
  out += "taken         " + m.started_at + " .. " + m.finished_at + "\n";
  out += "source        " + std::string(m.cluster ? "cluster" : "standalone server") + ", Redis " +
         m.redis_version + ", " + std::to_string(m.topology.size()) + " node(s)\n";
  out += "size          " + human_bytes(m.total_bytes) + " in " + std::to_string(m.objects.size()) +
         " RDB file(s)\n";
  out += "kage          " + m.kage_version + "\n";
  for (const auto& o : m.objects) {
    out += "  " + o.name + "  slots " + describe_slots(o.slots) + "  from " + o.read_role + " " +
           o.read_from + " (" + o.node_id + ")  Redis " + o.redis_version + ", RDB " +
           std::to_string(o.rdb_version) + ", " + o.transfer + "  " + human_bytes(o.bytes) + "  " +
           o.started_at + " .. " + o.finished_at + "\n";
  }
  for (const auto& c : m.node_configs) {
    out += "  " + c.name + "  " + c.role + " " + c.address +
           (c.source == "self" ? "" : "  (from the view of " + c.source_address + ")") + "\n";
  }
  if (!m.cluster_view.name.empty()) out += "  " + m.cluster_view.name + "  the cluster's nodes\n";
  return out + describe_pod_files(m);
}

asio::awaitable<int> run_show(settings s, logger log) {
  const read_plan plan = co_await async_read_plan(s, log);
  const std::shared_ptr<storage::store> store = plan.order.front();
  auto m = co_await storage::async_load_manifest(*store, plan.id);
  if (s.json) {
    print(storage::to_json(m) + "\n");
    co_return 0;
  }
  if (m.kind == "snapshot") {
    print(describe_snapshot(m, store->location()));
    co_return 0;
  }
  std::string out;
  out += "backup        " + m.id + " (" + m.kind + ", format " + std::to_string(m.format) + ")\n";
  out += "location      " + store->location() + "/" + m.id + "\n";
  out += "taken         " + m.started_at + " .. " + m.finished_at + "\n";
  out += "source        " + std::string(m.cluster ? "cluster" : "standalone server") + ", Redis " +
         m.redis_version + ", " + std::to_string(m.topology.size()) + " node(s)\n";
  std::string patterns;
  for (const auto& p : m.patterns) patterns += (patterns.empty() ? "" : ", ") + p;
  out += "patterns      " + (patterns.empty() ? std::string("(all keys)") : patterns) + "\n";
  out += "keys          " + with_commas(m.total_keys) +
         (m.total_vanished ? " (" + with_commas(m.total_vanished) + " vanished during the scan)"
                           : "") +
         "\n";
  out += "size          " + human_bytes(m.total_bytes) + " in " + std::to_string(m.objects.size()) +
         " object(s)\n";
  out += "kage          " + m.kage_version + "\n";
  for (const auto& o : m.objects) {
    out += "  " + o.name + "  master " + o.master_address + " (read from " + o.read_role + " " +
           o.read_from + ")  slots " + describe_slots(o.slots) + "  " + with_commas(o.keys) +
           " keys  " + human_bytes(o.bytes) + (o.functions ? "  +functions" : "") + "\n";
  }
  out += describe_pod_files(m);
  print(out);
  co_return 0;
}

asio::awaitable<int> run_verify(settings s, logger log) {
  const read_plan plan = co_await async_read_plan(s, log);
  const std::shared_ptr<storage::store> store = plan.order.front();
  auto progress = std::make_shared<engine::verify_progress>();
  const progress_display::render_fn render = verify_renderer(progress);
  engine::verify_report r;
  {
    progress_display display(co_await asio::this_coro::executor, !s.quiet && !s.json, render);
    r = co_await engine::async_verify(store, plan.id, progress);
  }
  if (s.json) {
    json::array objects;
    for (const auto& o : r.objects) {
      objects.push_back(json::object{{"name", o.name},
                                     {"ok", o.problem.empty()},
                                     {"bytes", o.bytes},
                                     {"keys", o.keys},
                                     {"sha256", o.sha256},
                                     {"problem", o.problem}});
    }
    print(json::serialize(json::object{{"result", r.ok() ? "ok" : "damaged"},
                                       {"command", "verify"},
                                       {"id", r.manifest.id},
                                       {"objects", objects}}) +
          "\n");
  } else {
    for (const auto& o : r.objects) {
      const std::string keys = r.manifest.kind == "snapshot" ? "" : with_commas(o.keys) + " keys, ";
      print("  " + o.name + "  " + (o.problem.empty() ? "ok" : "DAMAGED: " + o.problem) + "  (" +
            keys + human_bytes(o.bytes) + ")\n");
    }
    print(r.ok() ? "backup " + r.manifest.id + " verified: every checksum and record is sound\n"
                 : "backup " + r.manifest.id + " is damaged: do not rely on it\n");
  }
  co_return r.ok() ? 0 : static_cast<int>(exit_code::integrity);
}

json::array json_strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& x : v) a.push_back(json::value(x));
  return a;
}

void print_prune(const settings& s, const storage::prune_report& r, const std::string& location,
                 bool several) {
  if (s.json) {
    print(json::serialize(json::object{{"result", "ok"},
                                       {"command", "prune"},
                                       {"location", location},
                                       {"dry_run", s.dry_run},
                                       {"kept", json_strings(r.kept)},
                                       {"deleted", json_strings(r.deleted)},
                                       {"deleted_incomplete", json_strings(r.deleted_incomplete)},
                                       {"kept_incomplete", json_strings(r.kept_incomplete)},
                                       {"kept_damaged", json_strings(r.kept_damaged)},
                                       {"deleted_leftovers", json_strings(r.deleted_leftovers)},
                                       {"kept_leftovers", json_strings(r.kept_leftovers)}}) +
          "\n");
    return;
  }
  if (several) print(location + ":\n");
  const std::string verb = s.dry_run ? "would delete" : "deleted";
  for (const auto& id : r.kept_damaged) {
    print("  kept " + id +
          ": its manifest cannot be read (damaged, or from a newer kage); "
          "check it with 'kage show --id " +
          id + "' and delete it by hand if it is junk\n");
  }
  for (const auto& id : r.deleted) print("  " + verb + " " + id + "\n");
  for (const auto& id : r.deleted_incomplete) print("  " + verb + " " + id + " (interrupted)\n");
  for (const auto& l : r.deleted_leftovers) print("  " + verb + " " + l + "\n");
  if (!r.kept_leftovers.empty())
    print("  kept " + std::to_string(r.kept_leftovers.size()) +
          " temporary file(s) or unfinished upload(s) younger than --grace " + s.prune_grace +
          " (a run may still be writing them)\n");
  print(std::string(s.dry_run ? "dry run of prune: " : "prune: ") + "kept " +
        std::to_string(r.kept.size()) + " complete backup(s), " + verb + " " +
        std::to_string(r.deleted.size()) + " and " + std::to_string(r.deleted_incomplete.size()) +
        " interrupted; " + std::to_string(r.kept_incomplete.size()) +
        " interrupted backup(s) are younger than --grace " + s.prune_grace + "\n");
}

// Retention applies to each location on its own (each keeps its newest N).
asio::awaitable<int> run_prune(settings s, logger log) {
  const auto stores = open_stores(s, co_await asio::this_coro::executor, log);
  storage::prune_policy p;
  p.keep_last = s.keep_last;
  p.keep_within_ms = s.keep_within.empty() ? -1 : parse_age(s.keep_within, "--keep-within");
  p.grace_ms = parse_age(s.prune_grace, "--grace");
  p.allow_empty = s.allow_empty;
  p.dry_run = s.dry_run;
  p.now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  for (const auto& store : stores) {
    auto r = co_await storage::async_prune(*store, p);
    print_prune(s, r, store->location(), stores.size() > 1);
  }
  co_return 0;
}

// Built outside the coroutine: GCC 12 mishandles lambdas created in coroutine bodies.
progress_display::render_fn snapshot_renderer(std::shared_ptr<engine::snapshot_progress> progress) {
  return [progress](double elapsed) {
    std::vector<std::string> lines;
    for (const auto& sh : progress->shards) {
      std::string l = "  " + sh.master;
      if (sh.read_from != sh.master) l += " (from " + sh.read_from + ")";
      l += "  " + human_bytes(sh.bytes);
      if (!sh.started) l += "  waiting";
      if (sh.started && !sh.done)
        l += "  " +
             human_bytes(elapsed > 0
                             ? static_cast<std::uint64_t>(static_cast<double>(sh.bytes) / elapsed)
                             : 0) +
             "/s";
      if (sh.done) l += "  done";
      lines.push_back(l);
    }
    return lines;
  };
}

asio::awaitable<int> run_snapshot(settings s, logger log) {
  auto store = open_multi_store(s, co_await asio::this_coro::executor, log);
  auto progress = std::make_shared<engine::snapshot_progress>();
  auto options = snapshot_options_from(s);
  if (!s.pod_selector.empty()) options.pod_files = co_await async_read_pod_files(s, log);
  const auto [m, secs] = co_await async_run_shown(s, engine::async_snapshot, std::move(options),
                                                  std::shared_ptr<storage::store>(store), progress,
                                                  snapshot_renderer(progress), log);
  const copies c = copies_of(*store);
  std::string where;
  const int code = report_copies(c, m.id, where);
  if (s.json) {
    json::object out{{"result", code ? "partial" : "ok"},
                     {"command", "snapshot"},
                     {"id", m.id},
                     {"location", c.complete.front()},
                     {"copies", copies_json(c)},
                     {"bytes", m.total_bytes},
                     {"shards", m.objects.size()},
                     {"nodes", m.node_configs.size()},
                     {"seconds", secs}};
    add_pods_json(out, m);
    print(json::serialize(out) + "\n");
  } else {
    print("snapshot " + m.id + " complete: the RDB of " + std::to_string(m.objects.size()) +
          " master(s), " + human_bytes(m.total_bytes) + ", and the nodes.conf of " +
          std::to_string(m.node_configs.size()) + " node(s)" + pods_text(m) + " in " +
          seconds_text(secs) + " (" +
          human_bytes(secs > 0
                          ? static_cast<std::uint64_t>(static_cast<double>(m.total_bytes) / secs)
                          : m.total_bytes) +
          "/s) -> " + where + "\n");
  }
  co_return code;
}

asio::awaitable<int> run_fetch(settings s, logger log) {
  // Reads each object from the first location that has it (multi_store::async_open).
  std::shared_ptr<storage::store> store =
      open_multi_store(s, co_await asio::this_coro::executor, log);
  const auto r = co_await engine::async_fetch(store, fetch_options_from(s));
  if (s.json) {
    json::object out{
        {"result", "ok"},       {"command", "fetch"},       {"id", r.id},
        {"node_id", s.node_id}, {"role", r.role},           {"shard", r.shard},
        {"rdb", r.rdb_path},    {"rdb_bytes", r.rdb_bytes}, {"nodes_conf", r.conf_path}};
    print(json::serialize(out) + "\n");
  } else {
    print("fetched snapshot " + r.id + " for " + r.role + " " + s.node_id + ": " + r.rdb_path +
          " (" + r.shard + ", " + human_bytes(r.rdb_bytes) + ", SHA-256 verified)" +
          (r.conf_path.empty() ? "" : " and " + r.conf_path) + "\n");
  }
  co_return 0;
}

run_deps run_deps_from(const settings& s, const logger& log) {
  run_deps d;
  d.s3_retries = std::make_shared<std::uint64_t>(0);
  d.open_store = [s, log, retries = d.s3_retries](asio::any_io_executor ex) {
    return open_multi_store(s, ex, log, retries);
  };
  d.redis = redis_config_from(s);
  d.keep_within_ms = s.keep_within.empty() ? -1 : parse_age(s.keep_within, "keep_within");
  d.prune_grace_ms = parse_age(s.prune_grace, "--grace");
  return d;
}

// Built outside the coroutine: GCC 12 mishandles lambdas created in coroutine bodies.
engine::store_opener controller_store_opener(const settings& s, const logger& log) {
  return [s, log](const std::string& location, asio::any_io_executor ex) {
    return open_store_for(s, location, ex, log);
  };
}

// Built outside the coroutine: GCC 12 mishandles lambdas created in coroutine bodies.
store_opener doctor_store_opener(const settings& s, const logger& log) {
  return [s, log](const std::string& location, asio::any_io_executor ex) {
    return open_store_for(s, location, ex, log);
  };
}

// A backup's own path ("s3://bucket/prefix/<id>", "/backups/<id>", what a RedisBackup's
// status.backupPath says) works wherever a location does: it reads as the location holding it
// and --id. Only when --id is unset or names that same backup.
settings with_backup_paths_split(settings s) {
  if (s.command != "restore" && s.command != "verify" && s.command != "show" &&
      s.command != "fetch")
    return s;
  for (auto& l : s.locations) {
    std::string trimmed = l;
    while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
    const auto slash = trimmed.rfind('/');
    if (slash == std::string::npos || slash == 0) continue;
    const std::string last = trimmed.substr(slash + 1);
    if (!storage::valid_backup_id(last) || (!s.id.empty() && s.id != last)) continue;
    if (trimmed.substr(0, slash).ends_with(":/")) continue;  // "s3://<id>": a bucket name
    s.id = last;
    l = trimmed.substr(0, slash);
  }
  return s;
}

asio::awaitable<int> run_command(settings s, logger log) {
  s = with_backup_paths_split(std::move(s));
  if (s.command == "backup") co_return co_await run_backup(std::move(s), log);
  if (s.command == "restore") co_return co_await run_restore(std::move(s), log);
  if (s.command == "snapshot") co_return co_await run_snapshot(std::move(s), log);
  if (s.command == "fetch") co_return co_await run_fetch(std::move(s), log);
  if (s.command == "list") co_return co_await run_list(std::move(s), log);
  if (s.command == "show") co_return co_await run_show(std::move(s), log);
  if (s.command == "verify") co_return co_await run_verify(std::move(s), log);
  if (s.command == "prune") co_return co_await run_prune(std::move(s), log);
  if (s.command == "heal") {
    auto opener = doctor_store_opener(s, log);
    co_return co_await run_heal(std::move(s), log, std::move(opener));
  }
  if (s.command == "controller") {
    auto open = controller_store_opener(s, log);
    co_return co_await run_controller(std::move(s), log, std::move(open));
  }
  if (s.command == "doctor") {
    auto opener = doctor_store_opener(s, log);
    co_return co_await run_doctor(std::move(s), log, std::move(opener));
  }
  fail(exit_code::usage, "unknown command '" + s.command + "'");
}

int report_error(const settings& s, const std::string& message, int code) {
  if (s.json) {
    std::cout << json::serialize(json::object{{"result", "error"},
                                              {"command", s.command},
                                              {"exit_code", code},
                                              {"error", message}})
              << "\n";
  }
  if (s.log_format == "json") {
    std::cerr << json_log_line(log_level::error, s.command, message);
  } else {
    std::cerr << "kage: error: " << terminal_safe(message) << "\n";
  }
  return code;
}

}  // namespace
}  // namespace kage::cli

int main(int argc, char** argv) {
  using namespace kage;
  using namespace kage::cli;
  settings s;
  try {
    s = load_settings(argc, argv, environment());
  } catch (const usage_error& e) {
    if (argc > 1 && std::string_view(argv[1]) == "doctor") {
      bool json_out = false;
      for (int i = 2; i < argc; ++i) json_out = json_out || std::string_view(argv[i]) == "--json";
      return report_doctor_config_failure(e.what(), json_out);
    }
    std::cerr << "kage: error: " << e.what() << "\n";
    return static_cast<int>(exit_code::usage);
  }
  if (s.command == "help") {
    std::cout << help_text(s.help_topic);
    return 0;
  }
  if (s.command == "version") {
    std::cout << "kage " << KAGE_VERSION << " (archive format 1)\n";
    return 0;
  }
  if (s.command == "config") {
    std::cout << describe_settings(s);
    return 0;
  }

  boost::asio::io_context ioc(1);
  boost::asio::cancellation_signal cancel;
  // kage run stops gracefully: no new work, a grace period for the running job, exit 0.
  auto control = std::make_shared<run_control>();
  const logger log = make_logger(s);
  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
  int signals_seen = 0;
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (++signals_seen > 1) std::_Exit(static_cast<int>(exit_code::interrupted));
        const char* name = sig == SIGINT ? "SIGINT" : "SIGTERM";
        if (s.command == "run") {
          log.info("run", std::string(name) + " received (again to quit at once)");
          control->stop();
        } else if (s.command == "heal" || s.command == "controller") {
          log.info(s.command, std::string(name) + " received: stopping (again to quit at once)");
          cancel.emit(boost::asio::cancellation_type::terminal);
        } else {
          std::cerr << "kage: " << name
                    << ": stopping; temporary files are being removed (again to quit at once)\n";
          cancel.emit(boost::asio::cancellation_type::terminal);
        }
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);

  int code = static_cast<int>(exit_code::failure);
  boost::asio::co_spawn(
      ioc,
      s.command == "run" ? run_daemon(s, log, run_deps_from(s, log), control) : run_command(s, log),
      boost::asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e, int result) {
        signals.cancel();
        if (!e) {
          code = result;
          return;
        }
        code = report_error(s, describe_with_hint(e, s), static_cast<int>(exit_code_of(e)));
      }));
  ioc.run();
  std::cout.flush();
  return code;
}

// kage run: one loop starts the jobs (never two at once), one refreshes readiness, one serves
// HTTP; all on the program's single io_context. Metrics are updated by plain functions, which
// also keeps GCC 12 away from braced string lists inside coroutine bodies.
#include "run.hpp"
#include "heal_command.hpp"
#include "hints.hpp"
#include "job_options.hpp"
#include "kube.hpp"

#include <kage/engine/cron.hpp>
#include <kage/engine/snapshot.hpp>

#include <kage/base/error.hpp>
#include <kage/engine/backup.hpp>
#include <kage/engine/http_server.hpp>
#include <kage/engine/metrics.hpp>
#include <kage/engine/restore.hpp>
#include <kage/engine/scheduler.hpp>
#include <kage/storage/catalog.hpp>
#include <kage/storage/locations.hpp>

#include <boost/asio.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <vector>

namespace kage::cli {

void run_control::stop() {
  if (stopping_) return;
  stopping_ = true;
  if (on_stop_) on_stop_();
}

namespace {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

struct daemon {
  daemon(asio::any_io_executor ex, settings s_, logger log_, run_deps deps_,
         std::shared_ptr<run_control> control_, engine::schedule_config schedule)
      : s(std::move(s_)),
        log(std::move(log_)),
        deps(std::move(deps_)),
        control(std::move(control_)),
        cron(schedule.cron),
        sched(ex, std::move(schedule), log),
        ready_timer(ex) {}
  settings s;
  logger log;
  run_deps deps;
  std::shared_ptr<run_control> control;
  engine::redis_target target;
  engine::metrics_registry metrics;
  std::optional<engine::cron_schedule> cron;  // schedule.cron, instead of every_seconds
  engine::scheduler sched;                    // the runs; its stage() is the job's current step
  asio::steady_timer ready_timer;             // the next readiness check
  std::shared_ptr<asio::ip::tcp::acceptor> acceptor;
  bool ready = false;
  std::string not_ready = "not checked yet";
  // heal.enabled: the healer runs beside the scheduler; with its Lease, only the holder backs up.
  std::unique_ptr<k8s::client> kube;
  std::unique_ptr<engine::healer> healer;
  asio::cancellation_signal heal_stop;
};

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double since(steady::time_point t) {
  return std::chrono::duration<double>(steady::now() - t).count();
}

// Steps are labelled `step`, not `job`: Prometheus owns `job` (the scrape job), and a scraped
// `job` label would be renamed to `exported_job`.
engine::metric_labels step_label(const std::string& step) {
  return {{"step", step}};
}

// The longest gap between two regular runs: the period, or for cron the longest gap between
// its times over the coming year, so that "twice the period" is never too short for an alert.
double schedule_period_seconds(const daemon& d) {
  if (!d.cron) return static_cast<double>(d.s.schedule_seconds);
  const auto now = static_cast<std::int64_t>(unix_now());
  std::int64_t prev = d.cron->next_after(now), longest = 0;
  for (int i = 0; prev >= 0 && prev - now < 400 * 86400 && i < 10000; ++i) {
    const std::int64_t next = d.cron->next_after(prev);
    if (next < 0) break;
    longest = std::max(longest, next - prev);
    prev = next;
  }
  return static_cast<double>(longest);
}

// The steps a run takes with these settings, in order.
std::vector<std::string> scheduled_steps(const daemon& d) {
  std::vector<std::string> steps;
  if (d.s.backup_kind != "logical") steps.push_back("snapshot");
  if (d.s.backup_kind != "snapshot") {
    steps.push_back("backup");
    if (d.s.restore_missing) steps.push_back("restore");
  }
  if (d.s.keep_last || d.deps.keep_within_ms >= 0) steps.push_back("retention");
  return steps;
}

void describe_metrics(daemon& d) {
  auto& m = d.metrics;
  m.describe("kage_build_info", "gauge", "kage's version; always 1.");
  m.describe("kage_up", "gauge", "1 while kage run is running.");
  m.describe("kage_ready", "gauge",
             "1 when the last readiness check reached the cluster and the store.");
  m.describe("kage_runs_in_flight", "gauge", "Scheduled runs in progress (0 or 1).");
  m.describe("kage_runs_total", "counter", "Finished job steps by step and result.");
  m.describe("kage_errors_total", "counter",
             "Failed job steps by kind (redis, store, integrity, incompatible, failure).");
  m.describe("kage_last_success_timestamp_seconds", "gauge",
             "Unix time of the last successful step per job.");
  m.describe("kage_last_duration_seconds", "gauge", "Duration of the last successful step.");
  m.describe_histogram("kage_step_duration_seconds", "Durations of successful steps.",
                       {1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800});
  m.describe("kage_consecutive_failures", "gauge",
             "Failures of a step since its last success (0 after a success or a restart).");
  m.describe("kage_schedule_period_seconds", "gauge",
             "Longest time between two scheduled runs, for each step a run takes.");
  m.describe("kage_start_time_seconds", "gauge", "Unix time kage run started.");
  m.describe("kage_backup_keys_total", "counter", "Keys written by scheduled backups.");
  m.describe("kage_backup_bytes_total", "counter",
             "Compressed bytes written by scheduled backups.");
  m.describe("kage_last_backup_keys", "gauge", "Keys in the last backup.");
  m.describe("kage_last_backup_bytes", "gauge", "Compressed bytes of the last backup.");
  m.describe("kage_restore_keys_total", "counter",
             "Keys seen by restore-missing passes by outcome (restored, present, expired).");
  m.describe("kage_retention_deleted_total", "counter", "Backups deleted by retention.");
  m.describe("kage_location_failures_total", "counter",
             "Copies that failed in a location (a backup, a snapshot or retention there) while "
             "the job went on with the others.");
  m.set("kage_build_info", {{"version", KAGE_VERSION}}, 1);
  m.set("kage_up", {}, 1);
  m.set("kage_ready", {}, 0);
  m.set("kage_runs_in_flight", {}, 0);
  m.describe("kage_s3_retries_total", "counter",
             "S3 requests retried after 5xx, SlowDown, timeouts or resets.");
  m.add("kage_s3_retries_total", {}, 0);
  for (const char* step : {"backup", "snapshot", "restore", "retention"}) {
    m.add("kage_runs_total", {{"step", step}, {"result", "success"}}, 0);
    m.add("kage_runs_total", {{"step", step}, {"result", "failure"}}, 0);
  }
  // Present from the start, so that increase() counts the first error of a kind.
  for (const char* kind : {"redis", "store", "integrity", "incompatible", "failure"})
    m.add("kage_errors_total", {{"kind", kind}}, 0);
  m.set("kage_start_time_seconds", {}, unix_now());
  const double period = schedule_period_seconds(d);
  for (const auto& step : scheduled_steps(d)) {
    m.set("kage_schedule_period_seconds", step_label(step), period);
    m.set("kage_consecutive_failures", step_label(step), 0);
  }
  m.add("kage_backup_keys_total", {}, 0);
  m.add("kage_backup_bytes_total", {}, 0);
}

void record_success(daemon& d, const std::string& step, double seconds) {
  d.metrics.add("kage_runs_total", {{"step", step}, {"result", "success"}});
  d.metrics.set("kage_last_success_timestamp_seconds", step_label(step), unix_now());
  d.metrics.set("kage_last_duration_seconds", step_label(step), seconds);
  d.metrics.observe("kage_step_duration_seconds", step_label(step), seconds);
  d.metrics.set("kage_consecutive_failures", step_label(step), 0);
}

void record_backup(daemon& d, const storage::manifest& m, double seconds) {
  record_success(d, "backup", seconds);
  d.metrics.add("kage_backup_keys_total", {}, static_cast<double>(m.total_keys));
  d.metrics.add("kage_backup_bytes_total", {}, static_cast<double>(m.total_bytes));
  d.metrics.set("kage_last_backup_keys", {}, static_cast<double>(m.total_keys));
  d.metrics.set("kage_last_backup_bytes", {}, static_cast<double>(m.total_bytes));
  d.log.info("run", "backup " + m.id + " complete: " + std::to_string(m.total_keys) + " keys, " +
                        std::to_string(m.total_bytes) + " bytes in " + std::to_string(seconds) +
                        " s");
}

// Each location's failure counter: +1 where this job's copy failed, present for every one.
void count_location_failures(daemon& d, const storage::multi_store& store) {
  for (const auto& l : store.locations())
    d.metrics.add("kage_location_failures_total", {{"location", l.where->location()}},
                  l.failure ? 1 : 0);
}

// Which copies of a backup (or snapshot) are complete, and which failed and why.
void record_copies(daemon& d, const storage::multi_store& store, const std::string& what) {
  count_location_failures(d, store);
  std::string complete, failed;
  for (const auto& l : store.locations()) {
    const std::string where = l.where->location();
    if (l.failure)
      failed += (failed.empty() ? "" : "; ") + where + " (" + describe(l.failure) + ")";
    else
      complete += (complete.empty() ? "" : ", ") + where;
  }
  if (!failed.empty())
    d.log.error("run", what + ": copy FAILED in " + failed + "; complete in " + complete +
                           " (the next run writes every location again)");
  else if (store.locations().size() > 1)
    d.log.info("run", what + ": copies complete in " + complete);
}

void record_restore(daemon& d, const engine::restore_counts& t, const std::string& id,
                    double seconds) {
  record_success(d, "restore", seconds);
  d.metrics.add("kage_restore_keys_total", {{"outcome", "restored"}},
                static_cast<double>(t.restored));
  d.metrics.add("kage_restore_keys_total", {{"outcome", "present"}},
                static_cast<double>(t.present));
  d.metrics.add("kage_restore_keys_total", {{"outcome", "expired"}},
                static_cast<double>(t.expired));
  d.log.info("run", "restore-missing from " + id + ": " + std::to_string(t.restored) +
                        " restored, " + std::to_string(t.present) + " already present, " +
                        std::to_string(t.expired) + " expired");
}

void add_report(storage::prune_report& total, const storage::prune_report& r) {
  using list = std::vector<std::string> storage::prune_report::*;
  for (const list part : {&storage::prune_report::kept, &storage::prune_report::deleted,
                          &storage::prune_report::deleted_incomplete}) {
    (total.*part).insert((total.*part).end(), (r.*part).begin(), (r.*part).end());
  }
}

void record_prune_in(daemon& d, const storage::prune_report& r, const std::string& location) {
  d.log.info("run", "retention in " + location + ": kept " + std::to_string(r.kept.size()) +
                        ", deleted " +
                        std::to_string(r.deleted.size() + r.deleted_incomplete.size()));
}

void record_prune(daemon& d, const storage::prune_report& r, double seconds) {
  record_success(d, "retention", seconds);
  const auto deleted = r.deleted.size() + r.deleted_incomplete.size();
  d.metrics.add("kage_retention_deleted_total", {}, static_cast<double>(deleted));
  d.log.info("run", "retention: kept " + std::to_string(r.kept.size()) + ", deleted " +
                        std::to_string(deleted) + " and " +
                        std::to_string(r.deleted_leftovers.size()) +
                        " leftover(s) of interrupted runs");
}

// The kage_errors_total kind of a failed step.
const char* error_kind(exit_code code) noexcept {
  switch (code) {
    case exit_code::redis:
      return "redis";
    case exit_code::store:
      return "store";
    case exit_code::integrity:
      return "integrity";
    case exit_code::incompatible:
      return "incompatible";
    case exit_code::usage:
      return "usage";
    case exit_code::interrupted:
      return "cancelled";
    default:
      return "failure";
  }
}

// (kind, message) of a failed step.
std::pair<std::string, std::string> describe_error(std::exception_ptr e, const settings& s) {
  return {error_kind(exit_code_of(e)), describe_with_hint(e, s)};
}

// A run failed after the stop request.
void record_stopped(daemon& d, std::exception_ptr e) {
  auto [kind, message] = describe_error(e, d.s);
  d.metrics.add("kage_runs_total", {{"step", d.sched.stage()}, {"result", "cancelled"}});
  d.log.warn("run", d.sched.stage() +
                        " cancelled at shutdown (nothing of it is left as complete): " + message);
}

// A run failed; the scheduler retries it after `delay`.
void record_failure(daemon& d, std::exception_ptr e, int failures, std::chrono::seconds delay) {
  auto [kind, message] = describe_error(e, d.s);
  const std::string& stage = d.sched.stage();
  d.metrics.add("kage_runs_total", {{"step", stage}, {"result", "failure"}});
  d.metrics.add("kage_errors_total", {{"kind", kind}});
  d.metrics.add("kage_consecutive_failures", step_label(stage));
  d.log.error("run", stage + " failed (" + kind + ", " + std::to_string(failures) +
                         " in a row; retrying in " + std::to_string(delay.count()) +
                         " s): " + message);
}

void set_ready(daemon& d, std::string problem) {
  const bool ready = problem.empty();
  if (ready != d.ready || problem != d.not_ready) {
    if (ready)
      d.log.info("ready", "cluster and store reachable");
    else
      d.log.warn("ready", "not ready: " + problem);
  }
  d.ready = ready;
  d.not_ready = std::move(problem);
  d.metrics.set("kage_ready", {}, ready ? 1 : 0);
}

void set_in_flight(daemon& d, bool running) {
  d.metrics.set("kage_runs_in_flight", {}, running ? 1 : 0);
}

engine::http_handler make_handler(std::shared_ptr<daemon> d) {
  return [d](std::string_view target) {
    const auto path = target.substr(0, target.find('?'));
    engine::http_reply r;
    if (path == "/metrics") {
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = d->metrics.render();
    } else if (path == "/healthz") {
      r.body = "ok\n";
    } else if (path == "/readyz") {
      r.status = d->ready ? 200 : 503;
      r.body = d->ready ? "ready\n" : "not ready: " + d->not_ready + "\n";
    } else {
      r.status = 404;
      r.body = "not found; try /metrics, /healthz or /readyz\n";
    }
    return r;
  };
}

std::function<void()> stopper(std::shared_ptr<daemon> d) {
  return [d] {
    if (d->healer) d->heal_stop.emit(asio::cancellation_type::terminal);
    d->ready_timer.cancel();
    if (!d->sched.running()) {
      d->log.info("run", "stopping");
    } else {
      d->log.info("run",
                  "stopping: starting nothing new but the retention of a backup that finishes; "
                  "the running " +
                      d->sched.stage() + " has " + std::to_string(d->s.shutdown_grace_seconds) +
                      " s to finish");
    }
    d->sched.stop();  // the grace period, then the running job is cancelled
  };
}

std::function<void(std::exception_ptr)> report_task(logger log, std::string name) {
  return [log, name](std::exception_ptr e) {
    if (e) log.error("run", name + " stopped: " + describe(e));
  };
}

void record_s3_retries(daemon& d) {
  if (d.deps.s3_retries)
    d.metrics.set("kage_s3_retries_total", {}, static_cast<double>(*d.deps.s3_retries));
}

// Restore-missing from the backup just taken: never overwrites, never a dry run.
engine::restore_options restore_missing_options(const settings& s, const std::string& id) {
  engine::restore_options o = restore_options_from(s);
  o.id = id;
  o.replace = false;
  o.dry_run = false;
  return o;
}

storage::prune_policy prune_policy_from(const daemon& d) {
  storage::prune_policy p;
  p.keep_last = d.s.keep_last;
  p.keep_within_ms = d.deps.keep_within_ms;
  p.grace_ms = d.deps.prune_grace_ms;
  p.now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  return p;
}

std::string locations_text(const settings& s) {
  std::string out;
  for (const auto& l : store_locations(s)) out += (out.empty() ? "" : " and ") + l;
  return out;
}

// One line for the existing deployments' cycle: each behaviour and the setting that turns it off.
std::string legacy_summary(const settings& s) {
  std::string patterns;
  for (const auto& p : s.patterns) patterns += (patterns.empty() ? "" : ",") + p;
  std::string out =
      "the existing deployments' variables are in use (SCHEDULE_TIME, no config file), so each "
      "cycle does what their tool did: back up " +
      (patterns.empty() ? std::string("every key (PATTERN limits it)")
                        : "the keys matching " + patterns + " (PATTERN; unset it for every key)") +
      " to every location, " + locations_text(s) +
      " (BACKUP_DIR, S3_BUCKET_NAME: unset one to drop that copy), then ";
  out += s.restore_missing
             ? "restore the keys missing from the cluster from the backup before, never "
               "overwriting (RESTORE_MISSING=false turns it off)"
             : "no restore of missing keys (RESTORE_MISSING=false; unset it to restore them)";
  return out + "; a config file (--config, KAGE_CONFIG) replaces these defaults";
}

std::string startup_summary(const settings& s) {
  std::string nodes;
  for (const auto& n : s.nodes) nodes += (nodes.empty() ? "" : ",") + n;
  if (!s.sentinel_nodes.empty()) {
    nodes = "'" + s.master_name + "' via sentinels ";
    for (std::size_t i = 0; i < s.sentinel_nodes.size(); ++i)
      nodes += (i ? "," : "") + s.sentinel_nodes[i];
  }
  std::string out = (s.schedule_cron.empty() ? "every " + std::to_string(s.schedule_seconds) + " s"
                                             : "at cron '" + s.schedule_cron + "' (UTC)") +
                    ": " +
                    (s.backup_kind == "both" ? std::string("snapshot and backup") : s.backup_kind) +
                    " of " + nodes + " to " + locations_text(s);
  if (s.restore_missing) out += ", then restore-missing";
  if (s.keep_last || !s.keep_within.empty()) {
    out += ", then retention (";
    if (s.keep_last) out += "keep_last " + std::to_string(s.keep_last);
    if (s.keep_last && !s.keep_within.empty()) out += ", ";
    if (!s.keep_within.empty()) out += "keep_within " + s.keep_within;
    out += ")";
  }
  out += s.listen.empty() ? "; no HTTP endpoint" : "; HTTP on " + s.listen;
  return out;
}

// Restore-missing from the newest complete backup before the one just taken, so that a key
// deleted since then comes back (from the one just taken on the first run), read from the first
// location that has it complete and from the next when that fails. Never overwrites.
asio::awaitable<void> async_restore_missing(std::shared_ptr<daemon> d,
                                            std::vector<std::shared_ptr<storage::store>> stores,
                                            std::string just_taken) {
  d->sched.set_stage("restore");
  const auto t0 = steady::now();
  const auto listings = co_await storage::async_list_locations(stores, d->log);
  std::string id;
  auto order = storage::read_order(listings, id, just_taken, true);
  if (order.empty()) {
    id = just_taken;
    order = storage::read_order(listings, id);
  }
  if (order.empty())
    fail(exit_code::store, "backup " + just_taken +
                               " is complete in no location any more, so there is nothing to "
                               "restore missing keys from");
  for (std::size_t i = 0;; ++i) {
    auto rp = std::make_shared<engine::restore_progress>();
    std::exception_ptr e;
    try {
      co_await engine::async_restore(d->target, restore_missing_options(d->s, id), stores[order[i]],
                                     rp, d->log);
    } catch (...) {
      e = std::current_exception();
    }
    if (!e) {
      record_restore(*d, rp->totals, id, since(t0));
      co_return;
    }
    if (i + 1 == order.size() || !try_next_copy(e)) std::rethrow_exception(e);
    d->log.warn(
        stores[order[i]]->location(),
        "reading backup " + id + " failed, restoring from the next location: " + describe(e));
  }
}

// Retention in each location on its own; one that fails is counted and the others still pruned.
asio::awaitable<void> async_retention(std::shared_ptr<daemon> d,
                                      std::vector<std::shared_ptr<storage::store>> stores) {
  d->sched.set_stage("retention");
  const auto t0 = steady::now();
  storage::prune_report total;
  std::exception_ptr first;
  std::size_t failed = 0;
  for (const auto& st : stores) {
    std::exception_ptr e;
    try {
      const auto r = co_await storage::async_prune(*st, prune_policy_from(*d));
      if (stores.size() > 1) record_prune_in(*d, r, st->location());
      add_report(total, r);
    } catch (...) {
      e = std::current_exception();
    }
    if (!e) continue;
    if (stores.size() == 1 || storage::is_cancellation(e)) std::rethrow_exception(e);
    d->metrics.add("kage_location_failures_total", {{"location", st->location()}});
    d->log.error("run", "retention in " + st->location() +
                            " failed (the other locations are pruned): " + describe(e));
    if (!first) first = e;
    ++failed;
  }
  if (failed == stores.size()) std::rethrow_exception(first);
  record_prune(*d, total, since(t0));
  record_s3_retries(*d);
}

// One run: backup, then restore-missing, then retention. Throws what the failed step threw.
// Each step that writes gets its own multi_store: a location that failed one is tried again by
// the next. A stop request skips the steps not yet started, except retention after a backup
// that finished: it is that backup's bookkeeping (KEEP_LAST holds across restarts), it is
// short, and the grace timer still bounds it.
asio::awaitable<void> async_job(std::shared_ptr<daemon> d) {
  auto ex = co_await asio::this_coro::executor;
  if (d->healer && !d->healer->acting()) {
    d->log.info("run",
                "another kage holds the heal Lease: it takes the scheduled backups; "
                "nothing is done here this time");
    co_return;
  }
  d->sched.set_stage(d->s.backup_kind != "logical" ? "snapshot" : "backup");
  std::shared_ptr<storage::multi_store> store;
  auto t0 = steady::now();
  bool wrote = false;
  if (d->s.backup_kind != "logical") {
    d->sched.set_stage("snapshot");
    store = d->deps.open_store(ex);
    auto sp = std::make_shared<engine::snapshot_progress>();
    const storage::manifest snap =
        co_await engine::async_snapshot(d->target, snapshot_options_from(d->s), store, sp, d->log);
    record_success(*d, "snapshot", since(t0));
    d->log.info("run", "snapshot " + snap.id + " complete: " + std::to_string(snap.total_bytes) +
                           " bytes of RDB in " + std::to_string(since(t0)) + " s");
    record_copies(*d, *store, "snapshot " + snap.id);
    record_s3_retries(*d);
    wrote = true;
    t0 = steady::now();
  }
  storage::manifest m;
  if (d->s.backup_kind != "snapshot" && !d->control->stopping()) {
    d->sched.set_stage("backup");
    store = d->deps.open_store(ex);
    auto progress = std::make_shared<engine::backup_progress>();
    std::exception_ptr e;
    try {
      m = co_await engine::async_backup(d->target, backup_options_from(d->s), store, progress,
                                        d->log);
    } catch (...) {
      e = std::current_exception();
    }
    if (e) {
      count_location_failures(*d, *store);  // every location failed, or Redis did
      std::rethrow_exception(e);
    }
    record_backup(*d, m, since(t0));
    record_copies(*d, *store, "backup " + m.id);
    record_s3_retries(*d);
    wrote = true;
  }

  if (d->s.restore_missing && !m.id.empty() && !d->control->stopping())
    co_await async_restore_missing(d, store->stores(), m.id);

  if (wrote && (d->s.keep_last || d->deps.keep_within_ms >= 0))
    co_await async_retention(d, store->stores());
}

// "" when the cluster answers (every slot served) and the store lists.
asio::awaitable<std::string> async_check(std::shared_ptr<daemon> d) {
  auto ex = co_await asio::this_coro::executor;
  auto [e1, view] = co_await asio::co_spawn(ex, engine::async_discover(d->target, logger()),
                                            asio::as_tuple(asio::deferred));
  if (e1) co_return "cluster: " + describe_error(e1, d->s).second;
  std::shared_ptr<storage::multi_store> store;
  try {
    store = d->deps.open_store(ex);
  } catch (...) {
    co_return "store: " + describe_with_hint(std::current_exception(), d->s);
  }
  // Every location's failure count is there from the start, so increase() sees the first.
  for (const auto& l : store->locations())
    d->metrics.add("kage_location_failures_total", {{"location", l.where->location()}}, 0);
  // A prefix no backup uses: proves the location answers without listing every backup.
  auto [e2, objects] = co_await asio::co_spawn(ex, store->async_list("kage-readyz/"),
                                               asio::as_tuple(asio::deferred));
  if (e2) co_return "store: " + describe_error(e2, d->s).second;
  co_return std::string();
}

asio::awaitable<void> ready_loop(std::shared_ptr<daemon> d) {
  while (!d->control->stopping()) {
    d->ready_timer.expires_after(std::chrono::seconds(d->s.ready_check_seconds));
    co_await d->ready_timer.async_wait(asio::as_tuple(asio::deferred));
    if (d->control->stopping()) break;
    std::string problem = co_await async_check(d);
    if (d->control->stopping()) break;
    set_ready(*d, std::move(problem));
  }
}

asio::awaitable<void> run_job(std::shared_ptr<daemon> d) {
  return async_job(std::move(d));
}

engine::scheduler_hooks scheduler_hooks_for(std::shared_ptr<daemon> d) {
  engine::scheduler_hooks h;
  h.job = [d] { return run_job(d); };
  h.in_flight = [d](bool running) { set_in_flight(*d, running); };
  h.failed = [d](std::exception_ptr e, int failures, std::chrono::seconds delay) {
    record_failure(*d, e, failures, delay);
  };
  h.stopped = [d](std::exception_ptr e) { record_stopped(*d, e); };
  return h;
}

// heal.enabled: the healer on the same io_context as the scheduler, stopped with it.
void start_healer(std::shared_ptr<daemon> d, asio::any_io_executor ex) {
  d->kube = make_kube_client(d->s, ex, d->log);
  engine::healer::describe_metrics(d->metrics);
  auto config = healer_config_from(d->s, *d->kube);
  if (d->s.heal_refill_from_backup) config.backups = d->deps.open_store(ex);
  d->healer = std::make_unique<engine::healer>(*d->kube, heal_target(d->s), std::move(config),
                                               d->log, &d->metrics);
  asio::co_spawn(ex, d->healer->async_run(),
                 asio::bind_cancellation_slot(d->heal_stop.slot(), [d](std::exception_ptr e) {
                   try {
                     if (e) std::rethrow_exception(e);
                   } catch (const boost::system::system_error& x) {
                     if (x.code() == asio::error::operation_aborted) return;
                     d->log.error("run", "the healer stopped: " + describe(e));
                   } catch (...) {
                     d->log.error("run", "the healer stopped: " + describe(e));
                   }
                 }));
}

}  // namespace

asio::awaitable<int> run_daemon(settings s, logger log, run_deps deps,
                                std::shared_ptr<run_control> control) {
  auto ex = co_await asio::this_coro::executor;
  auto target = engine::make_target(s.nodes, deps.redis, sentinel_options_from(s));
  engine::schedule_config schedule;
  schedule.every_seconds = s.schedule_seconds;
  schedule.shutdown_grace_seconds = s.shutdown_grace_seconds;
  if (!s.schedule_cron.empty()) {
    std::string error;
    schedule.cron = engine::cron_schedule::parse(s.schedule_cron, &error);
    if (!schedule.cron) fail(exit_code::usage, "schedule.cron: " + error);
  }
  auto d = std::make_shared<daemon>(ex, std::move(s), std::move(log), std::move(deps), control,
                                    std::move(schedule));
  d->target = std::move(target);
  describe_metrics(*d);
  if (d->s.heal_enabled) start_healer(d, ex);
  control->on_stop(stopper(d));
  if (!d->s.listen.empty()) {
    d->acceptor = std::make_shared<asio::ip::tcp::acceptor>(engine::bind_http(ex, d->s.listen));
    asio::co_spawn(ex, engine::async_serve_http(d->acceptor, make_handler(d), d->log),
                   report_task(d->log, "HTTP server"));
  }
  d->log.info("run", startup_summary(d->s));
  if (d->s.legacy_cycle) d->log.info("run", legacy_summary(d->s));

  // Reachability problems at start are reported but not fatal: Redis or the store may come
  // up after kage (a sidecar starts with its Redis). Bad settings already failed to load.
  std::string problem = co_await async_check(d);
  if (!problem.empty())
    d->log.warn("run", "start-up check: " + problem + " (kage keeps running and retries)");
  set_ready(*d, problem);
  asio::co_spawn(ex, ready_loop(d), report_task(d->log, "readiness checks"));

  // With a fixed period the first backup starts at once; with cron, at the first cron time.
  co_await d->sched.async_run(scheduler_hooks_for(d));

  if (d->acceptor) {
    boost::system::error_code ignored;
    d->acceptor->close(ignored);
  }
  d->ready_timer.cancel();
  control->on_stop(nullptr);
  d->log.info("run", "stopped");
  co_return 0;
}

}  // namespace kage::cli

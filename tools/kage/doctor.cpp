#include "doctor.hpp"

#include "hints.hpp"
#include "job_options.hpp"
#include "kube.hpp"

#include <kage/base/error.hpp>
#include <kage/engine/target.hpp>
#include <kage/k8s/permissions.hpp>
#include <kage/proto/redis_error.hpp>
#include <kage/proto/sentinel.hpp>
#include <kage/proto/topology.hpp>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include <unistd.h>
#include <chrono>
#include <iostream>

namespace kage::cli {

namespace {

namespace asio = boost::asio;
namespace json = boost::json;

constexpr k8s::resource access_reviews = k8s::self_subject_access_reviews_resource;

struct report {
  std::vector<doctor_check> checks;
  void ok(std::string check, std::string target, std::string detail) {
    checks.push_back({std::move(check), std::move(target), "ok", std::move(detail), ""});
  }
  void fail(std::string check, std::string target, std::string detail, std::string fix) {
    checks.push_back(
        {std::move(check), std::move(target), "fail", std::move(detail), std::move(fix)});
  }
  void skip(std::string check, std::string target, std::string detail) {
    checks.push_back({std::move(check), std::move(target), "skip", std::move(detail), ""});
  }
  std::size_t failed() const {
    std::size_t n = 0;
    for (const auto& c : checks) n += c.status == "fail";
    return n;
  }
};

// What a failed connection or command says, and what to do about it.
struct problem {
  std::string detail;
  std::string fix;
};

problem problem_of(const std::exception_ptr& e, const settings& s, std::string fallback_fix) {
  problem p{describe(e), ""};
  try {
    std::rethrow_exception(e);
  } catch (const failure& f) {
    p.fix = hint_for(f.error(), s);
  } catch (const boost::system::system_error& f) {
    p.fix = hint_for(f.code(), s);
  } catch (...) {
  }
  if (p.fix.empty()) p.fix = std::move(fallback_fix);
  return p;
}

const std::string unreachable_fix =
    "check the address, that Redis runs there and that no firewall or NetworkPolicy blocks it";

// ---- Redis (cluster mode or a standalone server) -----------------------------------------

// Connects and PINGs; nullptr (and a failed line) when it does not answer or refuses us.
asio::awaitable<std::unique_ptr<proto::connection>> async_check_node(
    const engine::redis_target& target, proto::endpoint ep, std::string what, settings s,
    report& r) {
  std::unique_ptr<proto::connection> conn;
  std::exception_ptr error;
  try {
    conn = co_await engine::async_connect(target, ep);
    auto pong = co_await proto::exec(*conn, "PING");
    if (pong.is_error()) fail(exit_code::redis, "PING answered: " + pong.value);
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {
    auto p = problem_of(error, s, unreachable_fix);
    r.fail("redis", ep.address(), p.detail, p.fix);
    co_return nullptr;
  }
  const std::string user = s.user.empty() ? "default" : s.user;
  r.ok("redis", ep.address(),
       what + " answers" + (s.password ? ", authenticated as " + user : " (no password set)"));
  co_return conn;
}

// CLUSTER INFO and the slot map: state ok and every slot served.
void judge_cluster(const proto::reply& info, const proto::topology& topology,
                   const std::string& where, report& r) {
  const auto fields = proto::parse_info(info.value);
  auto field = [&](const char* name) {
    auto it = fields.find(name);
    return it == fields.end() ? std::string("?") : it->second;
  };
  const std::string state = field("cluster_state");
  const std::string assigned = field("cluster_slots_assigned");
  const std::string slots_ok = field("cluster_slots_ok");
  const bool covered = topology.covers_all_slots() && assigned == "16384";
  const std::string summary = "cluster_state:" + state + ", " + assigned + " of 16384 slots " +
                              "assigned, " + slots_ok + " ok; " +
                              std::to_string(topology.masters().size()) + " master(s), " +
                              std::to_string(topology.nodes.size()) + " node(s)";
  if (state == "ok" && covered && slots_ok == "16384") {
    r.ok("cluster", where, summary);
  } else if (covered) {
    r.fail("cluster", where, summary,
           "wait for the failover to finish, or bring the failed nodes back (redis-cli "
           "--cluster check " +
               where + ")");
  } else {
    r.fail("cluster", where, summary,
           "assign the missing slots (redis-cli --cluster fix " + where +
               "), or bring the lost masters back: a backup now misses their keys");
  }
}

asio::awaitable<void> async_check_cluster(const engine::redis_target& target, settings s,
                                          report& r) {
  std::unique_ptr<proto::connection> seed;
  proto::endpoint seed_ep;
  const std::string seed_role = "seed node";
  for (const auto& ep : target.seeds) {
    seed = co_await async_check_node(target, ep, seed_role, s, r);
    if (seed) {
      seed_ep = ep;
      break;
    }
  }
  if (!seed) {
    r.skip("cluster", "", "not checked: no seed node answered");
    co_return;
  }
  const std::string where = seed_ep.address();
  proto::topology topology;
  std::exception_ptr error;
  try {
    topology = co_await proto::async_load_topology(*seed, target.config.tls.enabled);
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {
    auto p = problem_of(error, s, "check that the user may run CLUSTER SHARDS (or NODES) and INFO");
    r.fail("cluster", where, p.detail, p.fix);
    co_return;
  }
  if (!topology.cluster) {
    r.skip("cluster", where, "a standalone server (cluster mode off): no cluster state");
    co_return;
  }
  for (const auto& n : topology.nodes) {
    if (n.ep == seed_ep) continue;
    const std::string role = n.master ? "master" : "replica";
    co_await async_check_node(target, n.ep, role, s, r);
  }
  proto::reply info;
  try {
    info = co_await proto::exec(*seed, "CLUSTER", "INFO");
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {
    auto p = problem_of(error, s, unreachable_fix);
    r.fail("cluster", where, "CLUSTER INFO: " + p.detail, p.fix);
    co_return;
  }
  if (info.is_error()) {
    r.fail("cluster", where, "CLUSTER INFO answered: " + info.value,
           "grant the ACL user +cluster|info (e.g. +@slow)");
    co_return;
  }
  judge_cluster(info, topology, where, r);
}

// ---- Redis Sentinel --------------------------------------------------------------------------

// A sentinel that refused the credentials gets the sentinels' advice, not Redis'.
problem sentinel_problem(const std::exception_ptr& e, const settings& s, bool connected) {
  try {
    std::rethrow_exception(e);
  } catch (const failure& f) {
    if (!connected && f.error().category() == proto::redis_category())
      return {describe(e), hint_for(make_error_code(proto::sentinel_errc::auth_refused), s)};
  } catch (...) {
  }
  return problem_of(e, s, hint_for(make_error_code(proto::sentinel_errc::unreachable), s));
}

std::string names_text(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "'" : ", '") + n + "'";
  return out.empty() ? "none" : out;
}

asio::awaitable<void> async_check_sentinel(const engine::redis_target& target, settings s,
                                           report& r) {
  const engine::sentinel_target& sn = *target.sentinel;
  engine::redis_target sentinels;
  sentinels.config = sn.config;
  sentinels.tls = target.tls;
  std::vector<proto::endpoint> primaries;
  for (const auto& ep : sn.nodes) {
    std::exception_ptr error;
    proto::sentinel_answer answer;
    bool connected = false;
    try {
      auto conn = co_await engine::async_connect(sentinels, ep);
      connected = true;
      answer = co_await proto::async_ask_sentinel(*conn, sn.master_name);
    } catch (...) {
      error = std::current_exception();
    }
    if (error) {
      auto p = sentinel_problem(error, s, connected);
      r.fail("sentinel", ep.address(), p.detail, p.fix);
      continue;
    }
    if (!answer.primary) {
      r.fail("sentinel", ep.address(),
             "monitors no master named '" + sn.master_name +
                 "' (it monitors: " + names_text(answer.known_masters) + ")",
             hint_for(make_error_code(proto::sentinel_errc::unknown_master), s));
      continue;
    }
    r.ok(
        "sentinel", ep.address(),
        "answers; names " + answer.primary->address() + " the primary of '" + sn.master_name + "'");
    primaries.push_back(*answer.primary);
  }
  const auto vote = proto::vote_primary(primaries);
  if (!vote) {
    r.skip("primary", sn.master_name, "not checked: no sentinel named a primary");
    co_return;
  }
  const proto::endpoint primary = vote->primary;
  std::exception_ptr error;
  proto::reply role;
  try {
    auto conn = co_await engine::async_connect(target, primary);
    role = co_await proto::exec(*conn, "ROLE");
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {
    auto p = problem_of(error, s, unreachable_fix);
    r.fail("primary", primary.address(), p.detail, p.fix);
    co_return;
  }
  const std::string answered =
      !role.is_error() && !role.elements.empty() ? role.elements.front().value : role.value;
  if (answered != "master") {
    r.fail("primary", primary.address(),
           "the sentinels name it the primary of '" + sn.master_name + "', but ROLE says '" +
               answered + "'",
           hint_for(make_error_code(proto::sentinel_errc::not_primary), s));
    co_return;
  }
  const std::string user = s.user.empty() ? "default" : s.user;
  r.ok("primary", primary.address(),
       "the primary of '" + sn.master_name + "' (" + std::to_string(vote->votes) + " of " +
           std::to_string(vote->answers) + " sentinels agree) answers as master" +
           (s.password ? ", authenticated as " + user : ""));
}

// ---- Stores ----------------------------------------------------------------------------------

std::string probe_key() {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  return "kage-doctor-probe-" + std::to_string(::getpid()) + "-" + std::to_string(ms);
}

std::string store_fix(const std::string& location) {
  if (location.starts_with("s3://"))
    return "check the bucket, S3_ENDPOINT_URL and that the credentials may put, get and delete "
           "objects there";
  return "make " + location + " writable by this user (uid " + std::to_string(::getuid()) +
         ") and give it free space, or choose another --to";
}

asio::awaitable<void> async_check_store(store_opener open, std::string location, settings s,
                                        report& r) {
  const std::string key = probe_key();
  const std::string content = "kage doctor probe " + key + "\n";
  std::vector<std::string> keys{key};
  std::string stage = "open the location";
  std::shared_ptr<storage::store> store;
  std::exception_ptr error;
  auto ex = co_await asio::this_coro::executor;
  try {
    store = open(location, ex);
    stage = "write a probe object";
    auto writer = co_await store->async_create(key);
    co_await writer->async_write(content);
    co_await writer->async_commit();
    stage = "read the probe object back";
    const std::string back = co_await storage::async_read_all(*store, key, 4096);
    if (back != content)
      fail(exit_code::store, "it read back " + std::to_string(back.size()) +
                                 " bytes that differ from the " + std::to_string(content.size()) +
                                 " written");
    stage = "delete the probe object";
    co_await store->async_remove(keys);
  } catch (...) {
    error = std::current_exception();
  }
  if (!error) {
    r.ok("store", location, "a probe object was written, read back and deleted");
    co_return;
  }
  if (stage == "read the probe object back") {
    try {
      co_await store->async_remove(keys);  // best effort: the probe must not stay
    } catch (...) {
    }
  }
  auto p = problem_of(error, s, store_fix(location));
  r.fail("store", location, "cannot " + stage + ": " + p.detail, p.fix);
}

// ---- Kubernetes ------------------------------------------------------------------------------

std::vector<k8s::feature> features_of(const settings& s) {
  std::vector<k8s::feature> out;
  for (const auto& name : s.k8s_features) {
    k8s::feature f{};
    if (k8s::parse_feature(name, f) && std::find(out.begin(), out.end(), f) == out.end())
      out.push_back(f);
  }
  if (out.empty() && !s.pod_selector.empty())
    out = {k8s::feature::pods_nodes_conf, k8s::feature::heal};
  return out;
}

std::string features_text(const std::vector<k8s::feature>& features) {
  std::string out;
  for (const auto f : features) out += (out.empty() ? "" : ", ") + std::string(k8s::to_string(f));
  return out;
}

std::string api_fix(const k8s::api_error& e) {
  if (e.http_status == 0)
    return "check the server in the kubeconfig (--kubeconfig/KUBECONFIG, --context) or, in a "
           "pod, KUBERNETES_SERVICE_HOST/PORT, and the network path to it";
  if (e.http_status == 401)
    return "the credentials are refused: renew the token or client certificate of the "
           "kubeconfig's user (in a pod: the service account token)";
  return "every authenticated user may normally create SelfSubjectAccessReviews "
         "(system:basic-user): check the cluster's RBAC";
}

std::string grant_fix(const k8s::permission& p, const std::string& ns) {
  return "grant it in namespace " + ns + ": apply k8s/deploy/role.yaml (apiGroups [\"" +
         std::string(p.group) + "\"], resources [\"" + p.resource_name() + "\"], verbs [\"" +
         std::string(p.verb) + "\"]) bound to kage's service account, or drop the feature";
}

asio::awaitable<void> async_check_kube(settings s, logger log, report& r) {
  const auto features = features_of(s);
  std::unique_ptr<k8s::client> api;
  std::exception_ptr error;
  auto ex = co_await asio::this_coro::executor;
  try {
    api = make_kube_client(s, ex, log);
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {
    r.fail("kubernetes", s.kubeconfig, describe(error),
           "check --kubeconfig/KUBECONFIG and --context, or run kage in a pod with a service "
           "account");
    co_return;
  }
  const std::string ns = kube_namespace(s, *api);
  const std::string server = api->config().server;
  const auto permissions = k8s::permissions_for(features);
  // The first review also tells whether the API server answers and accepts the credentials.
  const k8s::permission probe =
      permissions.empty() ? k8s::permission{"", "pods", "", "get", ""} : permissions.front();
  const std::string cluster_scoped;  // SelfSubjectAccessReviews have no namespace
  auto probe_review = k8s::make_access_review(probe, ns);
  auto first = co_await api->async_create(access_reviews, cluster_scoped, std::move(probe_review));
  if (!first) {
    r.fail("kubernetes", server, first.message, api_fix(first));
    for (const auto& p : permissions)
      r.skip("permission", p.describe(), "not asked: the API server did not answer");
    co_return;
  }
  r.ok("kubernetes", server,
       "the API server answers; namespace " + ns +
           (features.empty() ? "; no feature enabled (--pods, --feature)"
                             : "; features: " + features_text(features)));
  for (std::size_t i = 0; i < permissions.size(); ++i) {
    const auto& p = permissions[i];
    k8s::api_result res;
    if (i == 0) {
      res = std::move(first);
    } else {
      auto review = k8s::make_access_review(p, ns);
      res = co_await api->async_create(access_reviews, cluster_scoped, std::move(review));
    }
    if (!res) {
      r.fail("permission", p.describe(), res.message, api_fix(res));
      continue;
    }
    const auto answer = k8s::read_access_review(res.object);
    if (answer.allowed) {
      r.ok("permission", p.describe(), "allowed in namespace " + ns + ": to " + std::string(p.why));
    } else {
      const std::string reason = answer.reason.empty() ? answer.evaluation_error : answer.reason;
      r.fail("permission", p.describe(),
             "denied in namespace " + ns + (reason.empty() ? "" : " (" + reason + ")") +
                 "; kage needs it to " + std::string(p.why),
             grant_fix(p, ns));
    }
  }
  if (s.pod_selector.empty()) co_return;
  k8s::list_options lo;
  lo.label_selector = s.pod_selector;
  auto pods = co_await api->async_list(k8s::pods_resource, ns, lo);
  if (!pods) {
    r.fail("pods", s.pod_selector, pods.message, api_fix(pods));
  } else if (pods.items.empty()) {
    r.fail("pods", s.pod_selector, "no pod in namespace " + ns + " matches",
           "check --pods (a label selector such as app.kubernetes.io/instance=redis) and "
           "--namespace");
  } else {
    r.ok("pods", s.pod_selector,
         std::to_string(pods.items.size()) + " pod(s) in namespace " + ns + " match");
  }
}

// ---- Output ----------------------------------------------------------------------------------

json::object check_json(const doctor_check& c) {
  return {{"check", c.check},         {"target", c.target}, {"status", c.status},
          {"ok", c.status != "fail"}, {"detail", c.detail}, {"fix", c.fix}};
}

void print_report(const report& r, bool as_json) {
  const std::size_t failed = r.failed();
  if (as_json) {
    json::array checks;
    for (const auto& c : r.checks) checks.push_back(check_json(c));
    std::cout << json::serialize(json::object{{"result", failed ? "failed" : "ok"},
                                              {"command", "doctor"},
                                              {"checks", std::move(checks)},
                                              {"failed", failed}})
              << std::endl;
    return;
  }
  for (const auto& c : r.checks) {
    const char* word = c.status == "ok" ? "ok  " : c.status == "fail" ? "FAIL" : "skip";
    std::cout << word << "  " << c.check << (c.target.empty() ? "" : " " + c.target) << ": "
              << c.detail << (c.fix.empty() ? "" : "; fix: " + c.fix) << "\n";
  }
  std::cout << (failed ? "doctor: " + std::to_string(failed) + " of " +
                             std::to_string(r.checks.size()) + " checks failed"
                       : "doctor: all " + std::to_string(r.checks.size()) +
                             " checks passed (or were skipped)")
            << std::endl;
}

}  // namespace

asio::awaitable<int> run_doctor(settings s, logger log, store_opener open_store) {
  report r;
  r.ok("config", s.config_file,
       s.config_file.empty() ? "the settings (environment and flags) are valid"
                             : "the config file, environment and flags are valid");
  if (s.nodes.empty() && s.sentinel_nodes.empty()) {
    r.fail("redis", "", "no Redis is configured",
           "pass --node HOST:PORT or set REDIS_NODE (a Sentinel deployment: --sentinel "
           "HOST:PORT or SENTINEL_NODES)");
  } else {
    engine::redis_target target;
    std::exception_ptr error;
    try {
      target = engine::make_target(s.nodes, redis_config_from(s), sentinel_options_from(s));
    } catch (...) {
      error = std::current_exception();
    }
    if (error) {
      auto p = problem_of(error, s, "correct the Redis settings named above");
      r.fail("config", "redis", p.detail, p.fix);
    } else if (target.sentinel) {
      co_await async_check_sentinel(target, s, r);
    } else {
      co_await async_check_cluster(target, s, r);
    }
  }
  const auto locations = store_locations(s);
  if (locations.empty())
    r.skip("store", "", "no backup location configured (--to, BACKUP_DIR, store.locations)");
  for (const auto& location : locations) co_await async_check_store(open_store, location, s, r);
  if (kube_configured(s))
    co_await async_check_kube(s, log, r);
  else
    r.skip("kubernetes", "",
           "not configured (no --pods, --feature, kubeconfig setting or service account)");
  print_report(r, s.json);
  co_return r.failed() ? 1 : 0;
}

int report_doctor_config_failure(const std::string& message, bool json) {
  report r;
  r.fail("config", "", message,
         "correct the setting named above ('kage config' prints the effective settings, "
         "'kage doctor --help' the options)");
  print_report(r, json);
  return static_cast<int>(exit_code::usage);
}

}  // namespace kage::cli

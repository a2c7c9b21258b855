#include "kube.hpp"

#include <kage/base/error.hpp>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include <cstdlib>

namespace kage::cli {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

std::string string_at(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* p = &v;
  for (const auto key : path) {
    const auto* o = p->if_object();
    if (!o) return {};
    p = o->if_contains(key);
    if (!p) return {};
  }
  const auto* s = p->if_string();
  return s ? std::string(s->data(), s->size()) : std::string();
}

// The last line of what a failed command said, for one readable line.
std::string last_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  const auto nl = text.rfind('\n');
  return nl == std::string::npos ? text : text.substr(nl + 1);
}

std::string exec_problem(const k8s::exec_outcome& out) {
  if (out.ec) return out.message;
  std::string why = out.result.how == k8s::exec_result::outcome::exit_code
                        ? "cat exited with code " + std::to_string(out.result.exit_code)
                        : "the exec failed: " + out.result.message;
  const std::string said = last_line(out.err);
  if (!said.empty()) why += " (" + said + ")";
  return why;
}

}  // namespace

bool kube_configured(const settings& s) {
  return !s.pod_selector.empty() || !s.kubeconfig.empty() || !s.k8s_features.empty() ||
         std::getenv("KUBERNETES_SERVICE_HOST") != nullptr;
}

std::unique_ptr<k8s::client> make_kube_client(const settings& s, asio::any_io_executor ex,
                                              const logger& log) {
  k8s::connection_settings where;
  where.kubeconfig = s.kubeconfig;
  where.context = s.kube_context;
  k8s::client_options options;
  options.log = log;
  return std::make_unique<k8s::client>(ex, k8s::load_rest_config(where), options);
}

std::string kube_namespace(const settings& s, const k8s::client& api) {
  return s.k8s_namespace.empty() ? api.namespace_() : s.k8s_namespace;
}

asio::awaitable<std::vector<engine::pod_file>> async_read_pod_files(settings s, logger log) {
  auto api = make_kube_client(s, co_await asio::this_coro::executor, log);
  const std::string ns = kube_namespace(s, *api);
  const std::string path =
      s.nodeconf_file_path.empty() ? std::string(default_nodeconf_path) : s.nodeconf_file_path;
  k8s::list_options lo;
  lo.label_selector = s.pod_selector;
  auto list = co_await api->async_list(k8s::pods_resource, ns, lo);
  if (!list) {
    fail(exit_code::failure, list.ec,
         "cannot list the Redis pods (--pods " + s.pod_selector + "): " + list.message);
  }
  if (list.items.empty()) {
    fail(exit_code::usage, "no pod in namespace '" + ns + "' matches --pods '" + s.pod_selector +
                               "': check the selector and the namespace");
  }
  std::vector<engine::pod_file> files;
  for (const auto& item : list.items) {
    engine::pod_file f;
    f.pod = string_at(item, {"metadata", "name"});
    f.path = path;
    const std::string phase = string_at(item, {"status", "phase"});
    if (phase != "Running") {
      f.error = "the pod is " + (phase.empty() ? std::string("in no phase") : phase) +
                ", not Running: nothing to exec in";
    } else {
      k8s::exec_request request;
      request.namespace_ = ns;
      request.pod = f.pod;
      request.command = {"cat", "--", path};
      k8s::exec_options options;
      options.capture_limit = std::size_t{16} << 20;  // a nodes.conf of 1,000 nodes is ~200 KB
      options.idle_timeout = std::chrono::seconds(60);
      auto out = co_await api->async_exec(std::move(request), std::move(options));
      if (out.succeeded())
        f.content = std::move(out.out);
      else
        f.error = exec_problem(out);
    }
    if (!f.error.empty())
      log.warn("pods", "pod " + f.pod + ": its nodes.conf (" + path +
                           ") is not in this backup: " + f.error);
    files.push_back(std::move(f));
  }
  co_return files;
}

}  // namespace kage::cli

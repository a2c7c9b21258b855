#pragma once
// kage's Kubernetes glue for backup, snapshot and doctor: the client from the settings
// (--kubeconfig, --context, in-cluster), the namespace, and each pod's nodes.conf read by exec.
#include "settings.hpp"

#include <kage/base/log.hpp>
#include <kage/engine/pod_files.hpp>
#include <kage/k8s/client.hpp>

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <vector>

namespace kage::cli {

// The existing deployments' NODECONF_FILE_PATH default (the Bitnami Redis Cluster chart's).
inline constexpr std::string_view default_nodeconf_path = "/bitnami/redis/data/nodes.conf";

// Kubernetes is configured: --pods, a kubeconfig set (flag, KUBECONFIG, config file), a
// feature asked for, or kage runs in a pod (KUBERNETES_SERVICE_HOST).
bool kube_configured(const settings& s);

// Throws kage::failure (usage) saying what is wrong with the connection settings.
std::unique_ptr<k8s::client> make_kube_client(const settings& s, boost::asio::any_io_executor ex,
                                              const logger& log);

// --namespace, else the kubeconfig context's or the pod's own.
std::string kube_namespace(const settings& s, const k8s::client& api);

// The pods matching --pods, and each one's nodes.conf (cat -- NODECONF_FILE_PATH). Throws
// failure when the pods cannot be listed or none matches; a pod whose file cannot be read is a
// pod_file with its error (and a warning in the log).
boost::asio::awaitable<std::vector<engine::pod_file>> async_read_pod_files(settings s, logger log);

}  // namespace kage::cli

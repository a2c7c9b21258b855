#pragma once
// Where the API server is and how to authenticate to it: kubeconfig files (as kubectl reads
// them, KUBECONFIG lists merged with the first file winning per name), the in-cluster service
// account, and exec credential plugins' answers. Parsing only; files named here are read by
// the load_* functions, never by the parsers. Malformed input throws kage::failure with
// errc::bad_kubeconfig (exit_code::usage) and a message naming the file, line and field.
#include <kage/base/error.hpp>
#include <kage/k8s/error.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kage::k8s {

enum class exec_interactive_mode { never, if_available, always };

struct exec_env_var {
  std::string name;
  std::string value;
};

// users[].user.exec: a credential plugin kage runs to obtain a token or client certificate.
struct exec_config {
  std::string api_version;  // client.authentication.k8s.io/v1 or v1beta1
  std::string command;      // a relative path with a '/' is resolved against the kubeconfig's dir
  std::vector<std::string> args;
  std::vector<exec_env_var> env;
  exec_interactive_mode interactive_mode = exec_interactive_mode::if_available;
  bool provide_cluster_info = false;
  std::string install_hint;
};

struct kube_cluster {
  std::string server;
  std::string certificate_authority;       // a file path, absolute
  std::string certificate_authority_data;  // PEM, decoded from base64
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;
  std::string proxy_url;
  std::string origin;  // the file it came from
};

struct kube_user {
  std::string token;
  std::string token_file;               // absolute
  std::string client_certificate;       // absolute path
  std::string client_certificate_data;  // PEM, decoded
  std::string client_key;               // absolute path
  std::string client_key_data;          // PEM, decoded
  std::string username;
  std::string password;
  std::optional<exec_config> exec;
  bool auth_provider = false;  // a legacy auth-provider entry kage does not support
  std::string origin;
};

struct kube_context {
  std::string cluster;
  std::string user;
  std::string namespace_;
  std::string origin;
};

struct kubeconfig {
  std::map<std::string, kube_cluster> clusters;
  std::map<std::string, kube_user> users;
  std::map<std::string, kube_context> contexts;
  std::string current_context;
  std::vector<std::string> files;  // the files merged, in order (for messages)
};

// One kubeconfig document. origin names it in messages; relative paths in it are resolved
// against base_dir (the file's directory), as kubectl does. Never crashes on any input.
kubeconfig parse_kubeconfig(std::string_view yaml, std::string_view origin,
                            const std::filesystem::path& base_dir);
kubeconfig load_kubeconfig_file(const std::filesystem::path& file);
// Adds what from defines and into does not (the first file to set a name wins; the first
// current-context wins), as kubectl merges KUBECONFIG.
void merge_kubeconfig(kubeconfig& into, kubeconfig from);
// A KUBECONFIG value: files separated by ':'. Empty entries, repeats and missing files are
// skipped; none existing at all is an error.
kubeconfig load_kubeconfig_list(std::string_view list);
// The list to load: KUBECONFIG when set and not empty, else $HOME/.kube/config.
std::string kubeconfig_search_list(std::string_view kubeconfig_env, std::string_view home);

// Everything needed to reach and authenticate to one API server.
struct rest_config {
  std::string server;  // URL, "https://host:port[/path]"
  std::string ca_file;
  std::string ca_data;  // PEM
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;
  std::string proxy_url;
  std::string token;
  std::string token_file;  // read again as it rotates (bound service account tokens)
  std::string client_certificate_file;
  std::string client_certificate_data;
  std::string client_key_file;
  std::string client_key_data;
  std::string username;
  std::string password;
  std::optional<exec_config> exec;
  std::string namespace_ = "default";
  std::string source;  // "kubeconfig context \"kind\" (/home/u/.kube/config)" or "in-cluster"
};

// The given context, or the current-context when context is empty, checked as kubectl does:
// the context, its cluster and its user exist, the cluster has a server, no conflicting
// settings (a CA as file and as data, insecure with a CA, a token and a password, a client
// certificate without its key).
rest_config select_context(const kubeconfig& config, std::string_view context = {});

// In a pod: https://host:port (an IPv6 host is bracketed), the service account token (must
// exist), ca.crt (when present) and namespace (default "default") from dir.
inline constexpr std::string_view service_account_dir =
    "/var/run/secrets/kubernetes.io/serviceaccount";
rest_config in_cluster_config(std::string_view host, std::string_view port,
                              const std::filesystem::path& dir);
// The same from KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT; errc::not_in_cluster when
// either is unset. POD_NAMESPACE, when set, overrides the namespace file (as kubectl does).
rest_config in_cluster_config_from_env(const std::filesystem::path& dir = service_account_dir);

// An exec credential plugin's answer (ExecCredential, client.authentication.k8s.io/v1 or
// v1beta1). Throws kage::failure with errc::bad_exec_credential.
struct exec_credential {
  std::string token;
  std::string client_certificate_data;  // PEM
  std::string client_key_data;          // PEM
  std::optional<std::chrono::system_clock::time_point> expiration;
};
exec_credential parse_exec_credential(std::string_view json, std::string_view expected_api_version);

// The KUBERNETES_EXEC_INFO value for the plugin: an ExecCredential with spec.interactive and,
// when provideClusterInfo is set, spec.cluster from the config.
std::string exec_credential_request(const exec_config& exec, const rest_config& cluster,
                                    bool interactive);

// RFC 3339 ("2024-05-01T10:00:00Z", "...T10:00:00.5+02:00"); nullopt when not one.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

}  // namespace kage::k8s

#pragma once
// kage's effective settings: defaults < config file (YAML) < environment < flags.
// Every setting has one YAML key, zero or more environment names, one or more flags.
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace kage::cli {

struct settings {
  std::string command;     // "backup", "restore", "list", "verify", "show", "snapshot", "fetch",
                           // "config", "help", "version"
  std::string help_topic;  // command "help": the subcommand to explain ("" = the overview)

  // redis.*
  std::vector<std::string> nodes;       // host:port seeds; REDIS_NODE (comma-separated), --node
  std::string user;                     // ACL user; REDIS_USER, --user
  std::optional<std::string> password;  // REDISCLI_AUTH, redis.password, --password-file FILE
  std::string password_file;            // the file password was read from; REDIS_PASSWORD_FILE
  bool tls = false;                     // --tls; implied by ca/cert/key
  std::string ca_file;                  // CACERT, --cacert
  std::string cert_file;                // TLS_CRT, --cert
  std::string key_file;                 // TLS_KEY, --key
  std::string sni;                      // --sni
  bool insecure = false;                // --insecure: skip certificate verification
  int connect_timeout_ms = 5000;        // --connect-timeout (ms)
  int read_timeout_ms = 30000;          // --read-timeout (ms)
  // redis.sentinel.*: a deployment replicated by Sentinel (instead of redis.nodes)
  std::vector<std::string> sentinel_nodes;       // SENTINEL_NODES (comma-separated), --sentinel
  std::string master_name = "mymaster";          // SENTINEL_MASTER, --master-name
  std::string sentinel_user;                     // SENTINEL_USER, --sentinel-user
  std::optional<std::string> sentinel_password;  // SENTINEL_PASSWORD (secret)
  std::string sentinel_password_file;            // SENTINEL_PASSWORD_FILE, --sentinel-password-file

  // backup.*
  std::vector<std::string>
      patterns;           // PATTERN (comma-separated), --pattern (repeatable); empty = all
  int scan_count = 1000;  // --scan-count
  int window = 512;       // --window: pipelined commands in flight per master
  int failover_timeout_ms = 30000;     // --failover-timeout (ms)
  std::string read_from = "primary";   // --read-from primary|prefer-replica
  int compression_level = 1;           // --compression-level 1..19
  std::vector<std::string> locations;  // --to / --from (repeatable); BACKUP_DIR; store.locations

  // restore.*
  std::string id;        // --id
  bool replace = false;  // --replace
  bool dry_run = false;  // --dry-run

  // snapshot / fetch
  int concurrency = 0;                // --concurrency: shards transferred at once (0 = all)
  std::string node_id;                // --node-id: whose files fetch puts in place
  std::string data_dir;               // fetch --to: the Redis data directory
  std::string rdb_name = "dump.rdb";  // --rdb-name: the RDB's file name there
  bool force = false;                 // --force: fetch replaces a non-empty dump / nodes.conf

  // later issues (parsed and validated now so existing deployments' variables keep working)
  int schedule_seconds = 0;             // SCHEDULE_TIME, --every: kage run's period
  std::string schedule_cron;            // KAGE_CRON, --cron: "0 3 * * *" (UTC), instead of --every
  std::string backup_kind = "logical";  // --kind logical|snapshot|both: what kage run takes
  int shutdown_grace_seconds = 30;      // --shutdown-grace: kage run lets a backup finish
  bool restore_missing = false;         // RESTORE_MISSING: kage run restores missing keys
  std::string listen;                   // --listen HOST:PORT: kage run's HTTP endpoint
  int ready_check_seconds = 10;         // --ready-interval: /readyz refresh period
  std::string s3_endpoint;              // S3_ENDPOINT_URL
  std::string s3_bucket;                // S3_BUCKET_NAME
  std::string s3_region = "us-east-1";  // AWS_REGION, AWS_DEFAULT_REGION, --s3-region
  std::string aws_access_key_id;        // AWS_ACCESS_KEY_ID, store.s3.access_key_id
  std::optional<std::string> aws_secret_access_key;     // AWS_SECRET_ACCESS_KEY (secret)
  std::optional<std::string> aws_session_token;         // AWS_SESSION_TOKEN (secret)
  std::string credentials_dir = "/backup-credentials";  // --credentials-dir: one file per key
  std::string s3_ca_file;                               // AWS_CA_BUNDLE, --s3-ca-file
  bool s3_insecure = false;            // --s3-insecure: skip S3 certificate verification
  int part_size_mb = 16;               // --part-size-mb (at least 5, S3's minimum)
  int parts_in_flight = 4;             // --parts-in-flight
  int total_parts_in_flight = 16;      // --total-parts-in-flight
  std::string s3_checksum = "sha256";  // --s3-checksum: sha256 | md5

  // prune
  int keep_last = 0;                // --keep-last N (0: not set)
  std::string keep_within;          // --keep-within 7d / 12h / 30m
  std::string prune_grace = "24h";  // --grace: age after which an incomplete backup goes
  bool allow_empty = false;         // --allow-empty: may delete the last complete backup
  std::string nodeconf_file_path;   // NODECONF_FILE_PATH, --nodeconf-path ("": the default)
  std::string kubeconfig;           // KUBECONFIG, --kubeconfig

  // heal / Kubernetes
  std::string pod_selector;               // --pods, KAGE_POD_SELECTOR, k8s.pod_selector
  std::string k8s_namespace;              // --namespace, KAGE_NAMESPACE, k8s.namespace
  std::string kube_context;               // --context, k8s.context
  std::vector<std::string> k8s_features;  // --feature, k8s.features: what kage doctor checks
  int heal_redis_port = 6379;             // --redis-port: where Redis listens on each pod's IP
  int heal_replicas_per_master = 1;       // heal.replicas_per_master
  int heal_interval_seconds = 10;         // --interval: the periodic re-read
  int heal_forget_after_seconds = 0;      // heal.forget_after_seconds; 0: 2 x cluster-node-timeout
  int heal_node_timeout_ms = 0;           // heal.node_timeout_ms; 0: read from the nodes
  int heal_max_actions_per_minute = 30;
  int heal_stuck_migration_after_seconds = 0;  // 0: 2 x cluster-node-timeout
  bool heal_bootstrap = false;                 // heal.bootstrap, --bootstrap
  int heal_bootstrap_masters = 3;              // heal.bootstrap_masters
  bool heal_refill_from_backup = false;        // heal.refill_from_backup, --refill-from-backup
  std::string heal_lease = "auto";             // heal.lease: auto (on in-cluster) | on | off
  std::string heal_lease_name = "kage-heal";   // heal.lease_name
  std::string heal_lease_namespace;            // heal.lease_namespace; empty: the pods'
  int heal_lease_duration_seconds = 15;        // heal.lease_duration_seconds
  std::string heal_identity;                   // heal.identity, POD_NAME; empty: the host name
  int heal_api_stale_after_seconds = 15;       // heal.api_stale_after_seconds
  bool heal_enabled = false;                   // heal.enabled: kage run heals too
  bool once = false;                           // --once: one round, then exit
  // kage controller (RedisBackup resources)
  bool controller_all_namespaces = false;  // --all-namespaces
  int controller_max_concurrent = 2;       // --max-concurrent: backups at once
  std::string controller_pods_label_key = "app.kubernetes.io/instance";  // --pods-label-key
  std::string controller_lease_name = "kage-controller";                 // controller.lease_name

  // output
  bool json = false;                // --json
  bool quiet = false;               // --quiet: no progress
  std::string log_level = "info";   // --log-level, KAGE_LOG_LEVEL
  std::string log_format = "text";  // --log-format text|json, KAGE_LOG_FORMAT
  std::string config_file;          // --config, KAGE_CONFIG

  // Where each setting's value came from, by YAML key: "default", "config file F:L:C",
  // "env NAME", "flag --x", or the existing deployments' default (see legacy_cycle).
  std::map<std::string, std::string> origins;
  // kage run configured only by the existing deployments' variables (SCHEDULE_TIME, no config
  // file): each cycle backs up to every location, then restores missing keys (RESTORE_MISSING
  // defaults to true).
  bool legacy_cycle = false;
};

// Every location a backup goes to, in order of preference for reads: the given locations, then
// s3://S3_BUCKET_NAME when a bucket is set and no location is in S3 already.
std::vector<std::string> store_locations(const settings& s);

// Thrown for every usage problem: unknown flag, bad value, unknown YAML key, unreadable file.
// Messages name the source ("kage.yaml:12:3: unknown key 'redis.nodez'", "--window: ...").
class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// argv[0] is the program; argv[1] the subcommand. env is the process environment.
settings load_settings(int argc, const char* const* argv,
                       const std::map<std::string, std::string>& env);

// YAML text of the effective settings with secrets shown as "<redacted>" (kage config).
std::string describe_settings(const settings& s);

// Help for one subcommand, or the overview when command is empty or unknown.
std::string help_text(const std::string& command);

// The options ("--node", ...) a subcommand accepts, from the table the parser uses; all of
// them when command is empty. Lets tests check that help covers every option.
std::vector<std::string> option_names(const std::string& command);

}  // namespace kage::cli

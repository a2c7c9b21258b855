// One table row per setting drives everything: YAML keys, environment names, flags, parsing,
// validation, help and `kage config`, so the five views cannot drift apart.
#include "kage/settings.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <set>
#include <sstream>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <variant>

#include <yaml-cpp/yaml.h>

namespace kage::cli {
namespace {

// Commands as bits so one row can say which commands accept its flag.
enum command_bit : unsigned {
  k_backup = 1u << 0,
  k_restore = 1u << 1,
  k_list = 1u << 2,
  k_verify = 1u << 3,
  k_show = 1u << 4,
  k_config = 1u << 5,
  k_snapshot = 1u << 6,
  k_fetch = 1u << 7,
  k_prune = 1u << 8,  // 6 and 7 are kept for the snapshot commands
  k_run = 1u << 9,
};
constexpr unsigned k_jobs = k_backup | k_restore | k_list | k_verify | k_show | k_snapshot |
                            k_fetch | k_prune;
constexpr unsigned k_all = k_jobs | k_config | k_run;
constexpr unsigned k_redis = k_backup | k_restore | k_snapshot | k_config | k_run;
constexpr unsigned k_reads_store = k_restore | k_list | k_verify | k_show | k_fetch | k_prune;
constexpr unsigned k_stores = k_all;

struct command_info {
  std::string_view name;
  unsigned bit;
  std::string_view summary;
  std::string_view usage;
  std::string_view details;
  std::string_view examples;
};

const std::vector<command_info>& command_table() {
  static const std::vector<command_info> table = {
      {"backup", k_backup, "copy a Redis Cluster's keys into a new backup",
       "kage backup --node HOST:PORT --to LOCATION [OPTIONS]",
       "Connects through any node given with --node, discovers the cluster's masters, copies\n"
       "their keys (all of them, or those matching --pattern) with their TTLs into a new backup\n"
       "under --to, and prints the new backup's ID.\n",
       "  kage backup --node 127.0.0.1:7000 --to /var/backups/redis\n"
       "  kage backup --node 127.0.0.1:7000 --to /var/backups/redis --pattern 'user:*'\n"
       "  REDISCLI_AUTH=secret kage backup --node redis-0:6379 --tls --cacert ca.pem --to "
       "/backups\n"},
      {"restore", k_restore, "load a backup into a Redis Cluster",
       "kage restore --node HOST:PORT --from LOCATION [--id ID] [--replace] [OPTIONS]",
       "Loads a backup (the newest one, or --id ID) from --from into the cluster reachable\n"
       "through --node. Keys that already exist are overwritten only with --replace; --dry-run\n"
       "checks the backup and the target without writing.\n",
       "  kage restore --node 127.0.0.1:7100 --from /var/backups/redis\n"
       "  kage restore --node 127.0.0.1:7100 --from /var/backups/redis --id ID --replace\n"},
      {"list", k_list, "list the backups in a location", "kage list --from LOCATION [OPTIONS]",
       "Prints one line per backup found under --from: its ID, when it was taken, its size.\n",
       "  kage list --from /var/backups/redis\n"
       "  kage list --from /var/backups/redis --json\n"},
      {"verify", k_verify, "check that a backup is complete and intact, without Redis",
       "kage verify --from LOCATION [--id ID] [OPTIONS]",
       "Reads a backup (the newest one, or --id ID) and checks it against its manifest. It\n"
       "needs no Redis; exit code 5 means the backup is corrupt or truncated.\n",
       "  kage verify --from /var/backups/redis\n"
       "  kage verify --from /var/backups/redis --id ID\n"},
      {"show", k_show, "describe one backup: masters, slots, key counts, sizes",
       "kage show --from LOCATION [--id ID] [OPTIONS]",
       "Prints the manifest of a backup (the newest one, or --id ID).\n",
       "  kage show --from /var/backups/redis\n"
       "  kage show --from /var/backups/redis --id ID --json\n"},
      {"config", k_config, "print the effective settings (secrets redacted)",
       "kage config [OPTIONS]",
       "Prints, as YAML in the config file's own format, the settings kage would use after\n"
       "applying the config file, the environment and the flags. Passwords show as\n"
       "<redacted>. Use it to check a deployment's settings before running a job.\n",
       "  kage config\n"
       "  kage config --config /etc/kage.yaml --node 127.0.0.1:7000\n"},
      {"prune", k_prune, "delete old backups, keeping the newest ones",
       "kage prune --from LOCATION --keep-last N [--keep-within 7d] [OPTIONS]",
       "Deletes complete backups that are neither among the newest --keep-last N nor younger\n"
       "than --keep-within, and interrupted backups (no manifest) older than --grace. It never\n"
       "deletes the last complete backup unless --allow-empty. --dry-run lists what it would\n"
       "delete.\n",
       "  kage prune --from /var/backups/redis --keep-last 7\n"
       "  kage prune --from s3://bucket/redis --keep-last 3 --keep-within 7d --dry-run\n"},
      {"snapshot", k_snapshot, "copy every master's RDB and every node's nodes.conf (physical)",
       "kage snapshot --node HOST:PORT --to LOCATION [--target primary|prefer-replica] [OPTIONS]",
       "Asks every master at once for its RDB the way a replica does (REPLCONF rdb-only + SYNC)\n"
       "and streams each straight into a new backup under --to, checksummed, with no local copy;\n"
       "saves the nodes.conf of every node and nodes.json, a view of the cluster. With --target\n"
       "prefer-replica each shard is read from a healthy replica. The user needs +replconf +sync\n"
       "+psync (or +@admin). 'kage fetch' puts one node's files into its data directory.\n",
       "  kage snapshot --node 127.0.0.1:7000 --to /var/backups/redis\n"
       "  kage snapshot --node 127.0.0.1:7000 --to /var/backups/redis --target prefer-replica\n"},
      {"fetch", k_fetch, "put one node's RDB and nodes.conf from a snapshot into its data directory",
       "kage fetch --from LOCATION [--id ID] --node-id ID --to DIR [--rdb-name dump.rdb] [--force]",
       "For an init container: writes the snapshot's RDB of the node's shard (a replica gets its\n"
       "master's) as DIR/dump.rdb and the node's own nodes.conf as DIR/nodes.conf, each checked\n"
       "against the manifest (SHA-256, and the RDB's own CRC-64) before it is renamed into place.\n"
       "A non-empty dump or nodes.conf is replaced only with --force. Start Redis with\n"
       "cluster-config-file pointing at that nodes.conf: it comes back with its node id.\n",
       "  kage fetch --from /var/backups/redis --node-id $(cat /data/node-id) --to /data\n"
       "  kage fetch --from /var/backups/redis --id ID --node-id ID --to /data --force\n"},
      {"run", k_run, "back up on a schedule, serve metrics, restore missing keys (a sidecar)",
       "kage run --config FILE [--listen HOST:PORT] [OPTIONS]",
       "Runs until SIGTERM: every schedule.every_seconds (SCHEDULE_TIME) a backup, then, with\n"
       "restore.missing_after_backup (RESTORE_MISSING), a restore of the keys missing from the\n"
       "cluster, then the retention rules (store.retention). Runs never overlap; a failed run is\n"
       "logged and retried with backoff. With --listen it serves /metrics (Prometheus),\n"
       "/healthz and /readyz. On SIGTERM it starts nothing new (but the retention of a backup\n"
       "that finishes) and gives the run in progress --shutdown-grace seconds before cancelling\n"
       "it; it exits 0.\n",
       "  SCHEDULE_TIME=3600 REDIS_NODE=redis-0:6379 BACKUP_DIR=/backups kage run\n"
       "  kage run --config /etc/kage/kage.yaml --listen 0.0.0.0:9121 --log-format json\n"},
      {"help", 0, "show help for kage or for one command", "kage help [COMMAND]", "",
       "  kage help backup\n"},
      {"version", 0, "print kage's version", "kage version", "", "  kage version\n"},
  };
  return table;
}

const command_info* find_command(std::string_view name) {
  for (const auto& c : command_table())
    if (c.name == name) return &c;
  return nullptr;
}

using member =
    std::variant<std::string settings::*, std::optional<std::string> settings::*,
                 std::vector<std::string> settings::*, bool settings::*, int settings::*>;

struct flag_spec {
  std::string_view name;  // "--node"; empty: no flag
  unsigned commands = 0;  // the commands that accept it
};

// A setting's kind follows from its member's type: string (or one of `choices`), optional string,
// list, bool, int (1..max).
struct setting_spec {
  std::string_view key{};  // YAML path; empty: per invocation only (--id, --json), not in files
  member target{};
  std::array<std::string_view, 2> env{};  // environment names, in increasing precedence
  std::array<flag_spec, 2> flags{};
  std::string_view metavar{};  // value placeholder in help and messages ("HOST:PORT")
  std::string_view help{};
  unsigned applies = 0;        // the commands it matters to; help lists flagless settings by it
  int max = INT_MAX;           // integers run from 1 to max
  std::string_view unit{};     // integers: "seconds" gives "a positive integer number of seconds"
  std::string_view choices{};  // "primary|prefer-replica"
  bool secret = false;         // shown as <redacted>, never accepted from argv
  std::optional<std::string> (*check)(std::string_view) = nullptr;  // list items: why invalid
  std::string_view default_text{};  // help's default when the built-in value does not say it
};

std::optional<std::string> node_problem(std::string_view node);

const std::vector<setting_spec>& setting_table() {
  static const std::vector<setting_spec> table = {
      {.key = "redis.nodes",
       .target = &settings::nodes,
       .env = {"REDIS_NODE"},
       .flags = {{{"--node", k_redis}}},
       .metavar = "HOST:PORT",
       .help = "a cluster node to start from; repeat or comma-separate for more seeds",
       .applies = k_redis,
       .check = node_problem},
      {.key = "redis.user",
       .target = &settings::user,
       .env = {"REDIS_USER"},
       .flags = {{{"--user", k_redis}}},
       .metavar = "NAME",
       .help = "ACL user to authenticate as",
       .applies = k_redis,
       .default_text = "the 'default' user"},
      {.key = "redis.password",
       .target = &settings::password,
       .env = {"REDISCLI_AUTH"},
       .metavar = "PASSWORD",
       .help = "password (never a flag: argv is visible to every user of the machine)",
       .applies = k_redis,
       .secret = true},
      {.key = "redis.password_file",
       .target = &settings::password_file,
       .env = {"REDIS_PASSWORD_FILE"},
       .flags = {{{"--password-file", k_redis}}},
       .metavar = "FILE",
       .help = "read the password from FILE (a trailing newline is ignored)",
       .applies = k_redis},
      {.key = "redis.tls",
       .target = &settings::tls,
       .flags = {{{"--tls", k_redis}}},
       .help = "connect with TLS (implied by --cacert, --cert, --key)",
       .applies = k_redis},
      {.key = "redis.ca_file",
       .target = &settings::ca_file,
       .env = {"CACERT"},
       .flags = {{{"--cacert", k_redis}}},
       .metavar = "FILE",
       .help = "CA certificates (PEM) to verify the servers with",
       .applies = k_redis,
       .default_text = "the system's CAs"},
      {.key = "redis.cert_file",
       .target = &settings::cert_file,
       .env = {"TLS_CRT"},
       .flags = {{{"--cert", k_redis}}},
       .metavar = "FILE",
       .help = "client certificate (PEM) for mutual TLS; needs --key",
       .applies = k_redis},
      {.key = "redis.key_file",
       .target = &settings::key_file,
       .env = {"TLS_KEY"},
       .flags = {{{"--key", k_redis}}},
       .metavar = "FILE",
       .help = "private key (PEM) of the client certificate; needs --cert",
       .applies = k_redis},
      {.key = "redis.sni",
       .target = &settings::sni,
       .flags = {{{"--sni", k_redis}}},
       .metavar = "NAME",
       .help = "server name to send in TLS and verify the certificate against",
       .applies = k_redis,
       .default_text = "each node's host"},
      {.key = "redis.insecure_skip_verify",
       .target = &settings::insecure,
       .flags = {{{"--insecure", k_redis}}},
       .help = "do not verify server certificates (testing only)",
       .applies = k_redis},
      {.key = "redis.connect_timeout_ms",
       .target = &settings::connect_timeout_ms,
       .flags = {{{"--connect-timeout", k_redis}}},
       .metavar = "MS",
       .help = "give up connecting to a node after MS milliseconds",
       .applies = k_redis,
       .max = 3'600'000},
      {.key = "redis.read_timeout_ms",
       .target = &settings::read_timeout_ms,
       .flags = {{{"--read-timeout", k_redis}}},
       .metavar = "MS",
       .help = "give up on a reply after MS milliseconds",
       .applies = k_redis,
       .max = 3'600'000},
      {.key = "backup.patterns",
       .target = &settings::patterns,
       .env = {"PATTERN"},
       .flags = {{{"--pattern", k_backup | k_restore | k_config}}},
       .metavar = "GLOB",
       .help = "back up (or restore) only keys matching GLOB (Redis MATCH syntax); repeat or "
               "comma-separate",
       .applies = k_backup | k_restore | k_config,
       .default_text = "all keys"},
      {.key = "backup.scan_count",
       .target = &settings::scan_count,
       .flags = {{{"--scan-count", k_backup | k_config}}},
       .metavar = "N",
       .help = "COUNT hint for each SCAN",
       .applies = k_backup | k_config,
       .max = 1'000'000},
      {.key = "backup.window",
       .target = &settings::window,
       .flags = {{{"--window", k_backup | k_restore | k_config}}},
       .metavar = "N",
       .help = "commands in flight per master (more is faster and loads Redis more)",
       .applies = k_backup | k_restore | k_config,
       .max = 100'000},
      {.key = "backup.failover_timeout_ms",
       .target = &settings::failover_timeout_ms,
       .flags = {{{"--failover-timeout", k_backup | k_config}}},
       .metavar = "MS",
       .help = "when a master fails mid-backup, wait this long for a replica to take over",
       .applies = k_backup | k_config,
       .max = 3'600'000},
      {.key = "backup.read_from",
       .target = &settings::read_from,
       .flags = {{{"--read-from", k_backup | k_config}, {"--target", k_snapshot}}},
       .metavar = "WHERE",
       .help = "read from masters, or from a replica of each master when there is one",
       .applies = k_backup | k_snapshot | k_config,
       .choices = "primary|prefer-replica"},
      {.key = "backup.compression_level",
       .target = &settings::compression_level,
       .flags = {{{"--compression-level", k_backup | k_config}}},
       .metavar = "N",
       .help = "zstd level, 1 (fast) to 19 (small)",
       .applies = k_backup | k_config,
       .max = 19},
      {.key = "store.location",
       .target = &settings::location,
       .env = {"BACKUP_DIR"},
       .flags = {{{"--to", k_backup | k_snapshot | k_run}, {"--from", k_reads_store}}},
       .metavar = "LOCATION",
       .help = "the directory that holds the backups",
       .applies = k_all},
      {.key = "store.s3.endpoint",
       .target = &settings::s3_endpoint,
       .env = {"S3_ENDPOINT_URL"},
       .metavar = "URL",
       .help = "S3-compatible endpoint (used by S3 locations)",
       .applies = k_all},
      {.key = "store.s3.bucket",
       .target = &settings::s3_bucket,
       .env = {"S3_BUCKET_NAME"},
       .metavar = "BUCKET",
       .help = "S3 bucket, used when no location is given (s3://BUCKET/prefix names one too)",
       .applies = k_stores},
      {.key = "store.s3.region",
       .target = &settings::s3_region,
       .env = {"AWS_DEFAULT_REGION", "AWS_REGION"},
       .flags = {{{"--s3-region", k_stores}}},
       .metavar = "REGION",
       .help = "S3 region used in request signatures",
       .applies = k_stores},
      {.key = "store.s3.access_key_id",
       .target = &settings::aws_access_key_id,
       .env = {"AWS_ACCESS_KEY_ID"},
       .metavar = "ID",
       .help = "S3 access key id (else read from --credentials-dir)",
       .applies = k_stores},
      {.key = "store.s3.secret_access_key",
       .target = &settings::aws_secret_access_key,
       .env = {"AWS_SECRET_ACCESS_KEY"},
       .metavar = "SECRET",
       .help = "S3 secret access key (never a flag; else read from --credentials-dir)",
       .applies = k_stores,
       .secret = true},
      {.key = "store.s3.session_token",
       .target = &settings::aws_session_token,
       .env = {"AWS_SESSION_TOKEN"},
       .metavar = "TOKEN",
       .help = "S3 session token for temporary credentials",
       .applies = k_stores,
       .secret = true},
      {.key = "store.s3.credentials_dir",
       .target = &settings::credentials_dir,
       .env = {"KAGE_CREDENTIALS_DIR"},
       .flags = {{{"--credentials-dir", k_stores}}},
       .metavar = "DIR",
       .help = "mounted secret with one file per key (AWS_ACCESS_KEY_ID or aws_access_key_id or "
               "accessKeyId or access_key_id; the same for the secret key and session token)",
       .applies = k_stores},
      {.key = "store.s3.ca_file",
       .target = &settings::s3_ca_file,
       .env = {"AWS_CA_BUNDLE"},
       .flags = {{{"--s3-ca-file", k_stores}}},
       .metavar = "FILE",
       .help = "CA bundle to verify an HTTPS S3 endpoint with (default: the system's)",
       .applies = k_stores},
      {.key = "store.s3.insecure_skip_verify",
       .target = &settings::s3_insecure,
       .flags = {{{"--s3-insecure", k_stores}}},
       .help = "do not verify the S3 endpoint's certificate",
       .applies = k_stores},
      {.key = "store.s3.part_size_mb",
       .target = &settings::part_size_mb,
       .flags = {{{"--part-size-mb", k_backup | k_config}}},
       .metavar = "MIB",
       .help = "multipart upload part size in MiB (at least 5; grows past 1,000 parts)",
       .applies = k_backup | k_snapshot | k_run | k_config,
       .max = 5120},
      {.key = "store.s3.parts_in_flight",
       .target = &settings::parts_in_flight,
       .flags = {{{"--parts-in-flight", k_backup | k_config}}},
       .metavar = "N",
       .help = "multipart parts uploading at once per object",
       .applies = k_backup | k_snapshot | k_run | k_config,
       .max = 64},
      {.key = "store.s3.total_parts_in_flight",
       .target = &settings::total_parts_in_flight,
       .flags = {{{"--total-parts-in-flight", k_backup | k_config}}},
       .metavar = "N",
       .help = "multipart parts uploading at once across all objects (a backup writes one per "
               "master): memory stays under (N + masters) x part size",
       .applies = k_backup | k_snapshot | k_run | k_config,
       .max = 1024},
      {.key = "store.s3.checksum",
       .target = &settings::s3_checksum,
       .env = {"S3_CHECKSUM"},
       .flags = {{{"--s3-checksum", k_backup | k_snapshot | k_run | k_config}}},
       .metavar = "ALGO",
       .help = "checksum S3 verifies on every part: sha256 (x-amz-checksum-sha256) or md5 "
               "(Content-MD5, for stores that reject x-amz-checksum-* headers)",
       .applies = k_backup | k_snapshot | k_run | k_config,
       .choices = "sha256|md5"},
      {.key = "store.retention.keep_last",
       .target = &settings::keep_last,
       .env = {"KEEP_LAST"},
       .flags = {{{"--keep-last", k_prune | k_run}}},
       .metavar = "N",
       .help = "keep the N newest complete backups (kage run prunes after each backup)",
       .applies = k_prune | k_run | k_config,
       .default_text = "not set"},
      {.key = "store.retention.keep_within",
       .target = &settings::keep_within,
       .flags = {{{"--keep-within", k_prune | k_run}}},
       .metavar = "AGE",
       .help = "also keep complete backups younger than AGE (30m, 12h, 7d)",
       .applies = k_prune | k_run | k_config,
       .default_text = "not set"},
      {.target = &settings::prune_grace,
       .flags = {{{"--grace", k_prune}}},
       .metavar = "AGE",
       .help = "delete interrupted backups (no manifest) once older than AGE",
       .applies = k_prune},
      {.target = &settings::allow_empty,
       .flags = {{{"--allow-empty", k_prune}}},
       .help = "allow deleting the last complete backup",
       .applies = k_prune},
      {.key = "snapshot.concurrency",
       .target = &settings::concurrency,
       .flags = {{{"--concurrency", k_snapshot | k_config}}},
       .metavar = "N",
       .help = "transfer at most N shards' RDBs at once",
       .applies = k_snapshot | k_config,
       .max = 100'000,
       .default_text = "all masters at once"},
      {.key = "restore.missing_after_backup",
       .target = &settings::restore_missing,
       .env = {"RESTORE_MISSING"},
       .flags = {{{"--restore-missing", k_run | k_config}}},
       .help = "kage run: after each backup, restore the keys missing from the cluster from it",
       .applies = k_run | k_config},
      {.key = "http.listen",
       .target = &settings::listen,
       .env = {"KAGE_LISTEN"},
       .flags = {{{"--listen", k_run | k_config}}},
       .metavar = "HOST:PORT",
       .help = "kage run: serve /metrics, /healthz and /readyz here (such as 0.0.0.0:9121)",
       .applies = k_run | k_config,
       .default_text = "off"},
      {.key = "http.ready_check_seconds",
       .target = &settings::ready_check_seconds,
       .flags = {{{"--ready-interval", k_run | k_config}}},
       .metavar = "SECONDS",
       .help = "kage run: how often /readyz's answer is refreshed (cluster and store reachable)",
       .applies = k_run | k_config,
       .max = 86'400,
       .unit = "seconds"},
      {.key = "schedule.shutdown_grace_seconds",
       .target = &settings::shutdown_grace_seconds,
       .flags = {{{"--shutdown-grace", k_run | k_config}}},
       .metavar = "SECONDS",
       .help = "kage run: on SIGTERM, let a running backup finish this long, then cancel it",
       .applies = k_run | k_config,
       .max = 86'400,
       .unit = "seconds"},
      {.key = "restore.replace",
       .target = &settings::replace,
       .flags = {{{"--replace", k_restore | k_config}}},
       .help = "overwrite keys that already exist in the target",
       .applies = k_restore | k_config},
      {.key = "schedule.every_seconds",
       .target = &settings::schedule_seconds,
       .env = {"SCHEDULE_TIME"},
       .flags = {{{"--every", k_run | k_config}}},
       .metavar = "SECONDS",
       .help = "kage run: start a backup every SECONDS seconds",
       .applies = k_run | k_config,
       .unit = "seconds",
       .default_text = "not set (kage run needs it or schedule.cron)"},
      {.key = "schedule.cron",
       .target = &settings::schedule_cron,
       .env = {"KAGE_CRON"},
       .flags = {{{"--cron", k_run | k_config}}},
       .metavar = "EXPR",
       .help = "kage run: start a backup at the times of a 5-field cron expression (UTC), e.g. "
               "'0 3 * * *'",
       .applies = k_run | k_config,
       .default_text = "not set"},
      {.key = "schedule.kind",
       .target = &settings::backup_kind,
       .flags = {{{"--kind", k_run | k_config}}},
       .metavar = "KIND",
       .help = "kage run: take a logical backup, a physical snapshot, or both each time",
       .applies = k_run | k_config,
       .choices = "logical|snapshot|both"},
      {.key = "cluster.nodeconf_file_path",
       .target = &settings::nodeconf_file_path,
       .env = {"NODECONF_FILE_PATH"},
       .metavar = "FILE",
       .help = "a Redis nodes.conf to read the cluster layout from",
       .applies = k_redis},
      {.key = "cluster.kubeconfig",
       .target = &settings::kubeconfig,
       .env = {"KUBECONFIG"},
       .metavar = "FILE",
       .help = "kubeconfig for clusters running in Kubernetes",
       .applies = k_redis},
      {.key = "log.level",
       .target = &settings::log_level,
       .env = {"KAGE_LOG_LEVEL"},
       .flags = {{{"--log-level", k_all}}},
       .metavar = "LEVEL",
       .help = "least severe log lines to print",
       .applies = k_all,
       .choices = "debug|info|warn|error"},
      {.key = "log.format",
       .target = &settings::log_format,
       .env = {"KAGE_LOG_FORMAT"},
       .flags = {{{"--log-format", k_all}}},
       .metavar = "FORMAT",
       .help = "log lines as text, or as JSON objects (ts, level, component, msg), one a line",
       .applies = k_all,
       .choices = "text|json"},
      {.target = &settings::id,
       .flags = {{{"--id", k_restore | k_verify | k_show | k_fetch}}},
       .metavar = "ID",
       .help = "the backup to use, as printed by 'kage backup' and 'kage list'",
       .applies = k_restore | k_verify | k_show | k_fetch,
       .default_text = "the newest backup"},
      {.target = &settings::node_id,
       .flags = {{{"--node-id", k_fetch}}},
       .metavar = "ID",
       .help = "the cluster node id (CLUSTER MYID) whose files to fetch",
       .applies = k_fetch},
      {.target = &settings::data_dir,
       .flags = {{{"--to", k_fetch}}},
       .metavar = "DIR",
       .help = "the Redis data directory to put the RDB and nodes.conf in",
       .applies = k_fetch},
      {.target = &settings::rdb_name,
       .flags = {{{"--rdb-name", k_fetch}}},
       .metavar = "NAME",
       .help = "file name of the RDB in DIR (Redis' dbfilename)",
       .applies = k_fetch},
      {.target = &settings::force,
       .flags = {{{"--force", k_fetch}}},
       .help = "replace a non-empty dump or nodes.conf in DIR",
       .applies = k_fetch},
      {.target = &settings::dry_run,
       .flags = {{{"--dry-run", k_restore | k_prune}}},
       .help = "restore: check the backup and the target; prune: list what would go. Write nothing",
       .applies = k_restore | k_prune},
      {.target = &settings::json,
       .flags = {{{"--json", k_jobs}}},
       .help = "print results as JSON",
       .applies = k_jobs},
      {.target = &settings::quiet,
       .flags = {{{"--quiet", k_jobs}}},
       .help = "print no progress, only results and errors",
       .applies = k_jobs},
      {.target = &settings::config_file,
       .env = {"KAGE_CONFIG"},
       .flags = {{{"--config", k_all}}},
       .metavar = "FILE",
       .help = "read settings from this YAML file (see kage.example.yaml)",
       .applies = k_all},
  };
  return table;
}

const setting_spec* find_key(std::string_view key) {
  for (const auto& s : setting_table())
    if (!s.key.empty() && s.key == key) return &s;
  return nullptr;
}

const setting_spec& spec_for(std::string_view key) {
  return *find_key(key);
}

// A YAML map that only holds settings: every proper prefix of a key ("redis", "store.s3").
bool is_section(std::string_view path) {
  for (const auto& s : setting_table())
    if (s.key.size() > path.size() && s.key.starts_with(path) && s.key[path.size()] == '.')
      return true;
  return false;
}

// ---- small text helpers -------------------------------------------------------------------

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string> split_commas(std::string_view s) {
  std::vector<std::string> out;
  while (true) {
    auto comma = s.find(',');
    auto item = trim(s.substr(0, comma));
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

std::string quoted(std::string_view s) {
  return "'" + std::string(s) + "'";
}

// Optimal string alignment distance: a swapped pair ("bakcup") costs one edit, like a typo.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

// The candidate a typo most likely meant: within two edits, else the only one it abbreviates.
std::optional<std::string> closest(std::string_view wrong,
                                   const std::vector<std::string>& options) {
  std::string w = lower(wrong);
  std::optional<std::string> best;
  std::size_t best_distance = 3;
  for (const auto& o : options) {
    auto d = edit_distance(w, o);
    if (d < best_distance) best_distance = d, best = o;
  }
  if (best) return best;
  std::vector<std::string> prefixed;
  for (const auto& o : options)
    if (w.size() >= 4 && o.starts_with(w)) prefixed.push_back(o);
  if (prefixed.size() == 1) return prefixed.front();
  return std::nullopt;
}

std::string did_you_mean(const std::optional<std::string>& s) {
  return s ? " (did you mean " + quoted(*s) + "?)" : "";
}

// POSIX reads give errno for every failure, including a directory given as a file (EISDIR).
std::error_code read_whole_file(const std::string& path, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {errno, std::generic_category()};
  out.clear();
  char buffer[8192];
  std::error_code ec;
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ec = {errno, std::generic_category()};
      break;
    }
    if (n == 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return ec;
}

// ---- values -------------------------------------------------------------------------------

[[noreturn]] void bad_value(const std::string& where, std::string_view expected,
                            std::string_view got) {
  throw usage_error(where + ": expected " + std::string(expected) + ", got " + quoted(got));
}

std::optional<std::string> node_problem(std::string_view node) {
  std::string_view host, port;
  if (node.starts_with('[')) {
    auto close = node.find(']');
    if (close == std::string_view::npos) return "no ']' after the IPv6 address";
    host = node.substr(1, close - 1);
    auto rest = node.substr(close + 1);
    if (!rest.starts_with(':')) return "no ':PORT' after the address";
    port = rest.substr(1);
  } else {
    if (node.find("://") != std::string_view::npos) return "give HOST:PORT, not a URL";
    auto colon = node.rfind(':');
    if (colon == std::string_view::npos) return "no ':PORT'";
    host = node.substr(0, colon);
    port = node.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return "write IPv6 addresses in brackets, as in [::1]:7000";
  }
  if (host.empty()) return "no host before the ':'";
  int number = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || number < 1 ||
      number > 65535)
    return "the port must be a number from 1 to 65535";
  return std::nullopt;
}

int parse_count(const setting_spec& spec, std::string_view text, const std::string& where) {
  std::string expected = "a positive integer";
  if (!spec.unit.empty()) expected += " number of " + std::string(spec.unit);
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  bool numeric = !text.empty() && end == text.data() + text.size() &&
                 (ec == std::errc{} || ec == std::errc::result_out_of_range);
  if (!numeric || (ec == std::errc{} && value < 1)) bad_value(where, expected, text);
  if (ec == std::errc::result_out_of_range || value > spec.max)
    bad_value(where, expected + " no greater than " + std::to_string(spec.max), text);
  return static_cast<int>(value);
}

bool parse_bool(std::string_view text, const std::string& where) {
  auto t = lower(text);
  if (t == "true" || t == "yes" || t == "on" || t == "1") return true;
  if (t == "false" || t == "no" || t == "off" || t == "0") return false;
  bad_value(where, "true or false", text);
}

std::string parse_choice(const setting_spec& spec, std::string_view text,
                         const std::string& where) {
  std::vector<std::string> options;
  for (auto rest = spec.choices;;) {
    auto bar = rest.find('|');
    options.emplace_back(rest.substr(0, bar));
    if (bar == std::string_view::npos) break;
    rest.remove_prefix(bar + 1);
  }
  auto t = lower(trim(text));
  if (std::find(options.begin(), options.end(), t) != options.end()) return t;
  std::string expected = "one of";
  for (std::size_t i = 0; i < options.size(); ++i) expected += (i ? ", " : " ") + options[i];
  throw usage_error(where + ": expected " + expected + ", got " + quoted(text) +
                    did_you_mean(closest(t, options)));
}

// ---- loading ------------------------------------------------------------------------------

// One source of settings (the file, the environment, the flags). Its first value for a list
// replaces what lower layers gave; later values in the same layer add to it (--node a --node b).
struct layer {
  std::string name;
  std::set<const setting_spec*> touched;
};

struct loader {
  settings s;
  std::string password_file_origin;  // where the password file was named, for read errors

  void assign_list(const setting_spec& spec, std::vector<std::string> items,
                   const std::string& where, layer& l) {
    for (const auto& item : items)
      if (spec.check)
        if (auto why = spec.check(item))
          throw usage_error(where + ": expected " + std::string(spec.metavar) + ", got " +
                            quoted(item) + " (" + *why + ")");
    auto& list = s.*std::get<std::vector<std::string> settings::*>(spec.target);
    if (l.touched.insert(&spec).second) list.clear();
    list.insert(list.end(), items.begin(), items.end());
  }

  // text: a scalar from any source; for lists it is comma-separated.
  void assign(const setting_spec& spec, std::string_view text, const std::string& where, layer& l) {
    if (std::holds_alternative<std::vector<std::string> settings::*>(spec.target))
      return assign_list(spec, split_commas(text), where, l);
    l.touched.insert(&spec);
    std::visit(
        [&](auto m) {
          using type = std::remove_reference_t<decltype(s.*m)>;
          if constexpr (std::is_same_v<type, bool>) {
            s.*m = parse_bool(text, where);
          } else if constexpr (std::is_same_v<type, int>) {
            s.*m = parse_count(spec, text, where);
          } else if constexpr (!std::is_same_v<type, std::vector<std::string>>) {
            if (text.empty()) throw usage_error(where + ": expected a value, got nothing");
            s.*m = spec.choices.empty() ? std::string(text) : parse_choice(spec, text, where);
          }
        },
        spec.target);
    // The password and its file are one setting: whichever comes last wins.
    if (spec.key == "redis.password") {
      if (text == "<redacted>")
        throw usage_error(where +
                          ": the password is '<redacted>', as 'kage config' prints it; "
                          "give the real password, or use redis.password_file");
      s.password_file.clear();
    } else if (spec.key == "redis.password_file") {
      s.password.reset();
      password_file_origin = where;
    }
  }

  // Two sources for the password within one layer is a mistake worth stopping for.
  void check_layer(const layer& l) const {
    const auto& password = spec_for("redis.password");
    const auto& file = spec_for("redis.password_file");
    if (!l.touched.count(&password) || !l.touched.count(&file)) return;
    bool env = l.name == "the environment";
    throw usage_error(
        l.name + " gives both a password (" + std::string(env ? password.env[0] : password.key) +
        ") and a password file (" + std::string(env ? file.env[0] : file.key) + "); keep only one");
  }

  void load_file(const std::string& path);
  void load_map(const YAML::Node& map, const std::string& prefix, const std::string& path,
                std::map<std::string, int>& seen, layer& l);
  void load_value(const setting_spec& spec, const YAML::Node& value, const std::string& where,
                  layer& l);
  void load_env(const std::map<std::string, std::string>& env);
  void finish();
};

std::string at(const std::string& path, const YAML::Mark& mark) {
  if (mark.is_null()) return path + ": ";
  return path + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1) + ": ";
}

std::string what_it_is(const YAML::Node& n) {
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a map";
  if (n.IsScalar()) return quoted(n.Scalar());
  return "nothing";
}

void loader::load_file(const std::string& path) {
  std::string text;
  if (auto ec = read_whole_file(path, text))
    throw usage_error("cannot read config file " + quoted(path) + ": " + ec.message());
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw usage_error(at(path, e.mark) + e.msg);
  }
  if (root.IsNull()) return;  // empty, or only comments
  if (!root.IsMap())
    throw usage_error(at(path, root.Mark()) +
                      "expected a map of settings (such as 'redis:'), got " + what_it_is(root));
  layer l{"config file " + quoted(path), {}};
  std::map<std::string, int> seen;
  load_map(root, "", path, seen, l);
  check_layer(l);
}

void loader::load_map(const YAML::Node& map, const std::string& prefix, const std::string& path,
                      std::map<std::string, int>& seen, layer& l) {
  for (const auto& pair : map) {
    const YAML::Node& key = pair.first;
    const YAML::Node& value = pair.second;
    if (!key.IsScalar())
      throw usage_error(at(path, key.Mark()) + "expected a setting name, got " + what_it_is(key));
    std::string name = prefix.empty() ? key.Scalar() : prefix + "." + key.Scalar();
    // yaml-cpp keeps both copies of a repeated key; silently taking one would hide a mistake.
    if (auto [it, fresh] = seen.emplace(name, key.Mark().line + 1); !fresh)
      throw usage_error(at(path, key.Mark()) + name + " is set twice (first on line " +
                        std::to_string(it->second) + ")");
    if (is_section(name)) {
      if (value.IsNull()) continue;
      if (!value.IsMap())
        throw usage_error(at(path, value.Mark()) + name + ": expected a map of settings, got " +
                          what_it_is(value));
      load_map(value, name, path, seen, l);
      continue;
    }
    const setting_spec* spec = find_key(name);
    if (!spec) {
      std::vector<std::string> known;
      std::optional<std::string> moved;  // same name in another section ("redis.patterns")
      auto leaf = name.substr(name.rfind('.') + 1);
      for (const auto& s : setting_table()) {
        if (s.key.empty()) continue;
        known.emplace_back(s.key);
        for (auto dot = s.key.find('.'); dot != std::string_view::npos;
             dot = s.key.find('.', dot + 1))
          known.emplace_back(s.key.substr(0, dot));
        if (s.key.substr(s.key.rfind('.') + 1) == leaf) moved = std::string(s.key);
      }
      auto hint = closest(name, known);
      throw usage_error(at(path, key.Mark()) + "unknown setting " + quoted(name) +
                        did_you_mean(hint ? hint : moved));
    }
    load_value(*spec, value, at(path, value.Mark()) + name, l);
  }
}

void loader::load_value(const setting_spec& spec, const YAML::Node& value, const std::string& where,
                        layer& l) {
  // "user:" or 'user: ""' (as 'kage config' prints unset values) leaves the setting alone.
  if (value.IsNull()) return;
  bool is_list = std::holds_alternative<std::vector<std::string> settings::*>(spec.target);
  if (is_list && value.IsSequence()) {
    std::vector<std::string> items;
    for (const auto& item : value) {
      if (!item.IsScalar())
        bad_value(where, "a list of strings", what_it_is(item) + " in the list");
      items.push_back(item.Scalar());
    }
    return assign_list(spec, std::move(items), where, l);
  }
  if (!value.IsScalar())
    throw usage_error(where + ": expected " +
                      (is_list ? std::string("a list or a comma-separated string") : "a value") +
                      ", got " + what_it_is(value));
  if (value.Scalar().empty() && !is_list) return;
  assign(spec, value.Scalar(), where, l);
}

void loader::load_env(const std::map<std::string, std::string>& env) {
  layer l{"the environment", {}};
  for (const auto& spec : setting_table()) {
    for (auto name : spec.env) {
      if (name.empty()) continue;
      auto it = env.find(std::string(name));
      if (it == env.end() || it->second.empty()) continue;  // empty counts as unset
      assign(spec, it->second, "environment variable " + std::string(name), l);
    }
  }
  check_layer(l);
}

// Cross-setting rules that only make sense once every layer is in.
void loader::finish() {
  if (!s.password_file.empty()) {
    std::string text;
    if (auto ec = read_whole_file(s.password_file, text))
      throw usage_error(password_file_origin + ": cannot read password file " +
                        quoted(s.password_file) + ": " + ec.message());
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (text.empty())
      throw usage_error(password_file_origin + ": password file " + quoted(s.password_file) +
                        " is empty");
    s.password = std::move(text);
  }
  if (!s.ca_file.empty() || !s.cert_file.empty() || !s.key_file.empty()) s.tls = true;
  if (s.cert_file.empty() != s.key_file.empty())
    throw usage_error(std::string("a TLS client certificate and its private key go together: ") +
                      (s.cert_file.empty() ? "a key is set but no certificate"
                                           : "a certificate is set but no key") +
                      "; set both --cert and --key (TLS_CRT and TLS_KEY, or redis.cert_file and "
                      "redis.key_file)");

  const auto& c = s.command;
  bool needs_nodes = c == "backup" || c == "restore" || c == "snapshot" || c == "run";
  bool needs_location =
      needs_nodes || c == "fetch" || c == "list" || c == "verify" || c == "show" || c == "prune";
  if (needs_nodes && s.nodes.empty())
    throw usage_error("kage " + c + " needs a Redis node: pass --node HOST:PORT or set REDIS_NODE");
  if (c == "fetch" && s.node_id.empty())
    throw usage_error("kage fetch needs --node-id ID: the cluster node id (CLUSTER MYID) whose "
                      "files to fetch");
  if (c == "fetch" && s.data_dir.empty())
    throw usage_error("kage fetch needs --to DIR: the Redis data directory to put the files in");
  if (c == "run" && s.schedule_seconds == 0 && s.schedule_cron.empty())
    throw usage_error("kage run needs a schedule: set schedule.every_seconds in the config file, "
                      "SCHEDULE_TIME, or --every SECONDS (or a cron expression: schedule.cron, "
                      "KAGE_CRON, --cron)");
  if (c == "run" && s.schedule_seconds != 0 && !s.schedule_cron.empty())
    throw usage_error("kage run takes one schedule: schedule.every_seconds (SCHEDULE_TIME, "
                      "--every) or schedule.cron (KAGE_CRON, --cron), not both");
  if (c == "prune" && s.keep_last == 0 && s.keep_within.empty())
    throw usage_error("kage prune needs a rule: --keep-last N and/or --keep-within AGE");
  if (s.part_size_mb < 5)
    throw usage_error("store.s3.part_size_mb: S3 parts must be at least 5 MiB, got " +
                      std::to_string(s.part_size_mb));
  if (needs_location && s.location.empty() && s.s3_bucket.empty())
    throw usage_error("kage " + c + " needs a backup location: pass " +
                      (c == "backup" || c == "snapshot" ? "--to" : "--from") + " LOCATION or set BACKUP_DIR");
}

struct flag_use {
  const setting_spec* spec;
  std::string flag;
  std::optional<std::string> value;  // nullopt: a switch given without "=value"
};

std::vector<std::string> flags_for(unsigned bit) {
  std::vector<std::string> out;
  for (const auto& spec : setting_table())
    for (const auto& f : spec.flags)
      if (!f.name.empty() && (f.commands & bit)) out.emplace_back(f.name);
  return out;
}

// Why a real flag is refused here, with the flag this command uses instead where there is one.
std::string wrong_command_message(std::string_view flag, const command_info& cmd) {
  std::string head =
      "option " + quoted(flag) + " does not apply to 'kage " + std::string(cmd.name) + "'";
  if (flag == "--to" && (cmd.bit & k_reads_store))
    return head + ": --to names where 'kage backup' writes; 'kage " + std::string(cmd.name) +
           "' reads from --from LOCATION";
  if (flag == "--from" && (cmd.bit & (k_backup | k_snapshot)))
    return head + ": --from names where a backup is read from; 'kage " + std::string(cmd.name) +
           "' writes to --to LOCATION";
  if ((flag == "--to" || flag == "--from") && cmd.bit == k_config)
    return head +
           ": 'kage config' shows store.location as set by the config file or "
           "BACKUP_DIR";
  std::string users;
  for (const auto& c : command_table())
    for (const auto& spec : setting_table())
      for (const auto& f : spec.flags)
        if (f.name == flag && (f.commands & c.bit & k_jobs))
          users += std::string(users.empty() ? "" : ", ") + "kage " + std::string(c.name);
  return head + (users.empty() ? "" : " (it is for " + users + ")") + "; run 'kage " +
         std::string(cmd.name) + " --help'";
}

std::vector<flag_use> parse_flags(int argc, const char* const* argv, const command_info& cmd) {
  std::vector<flag_use> uses;
  std::string cmd_name(cmd.name);
  for (int i = 2; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') {
      throw usage_error("unexpected argument " + quoted(arg) + " for 'kage " + cmd_name +
                        "': settings are given as options, such as --node HOST:PORT; run 'kage " +
                        cmd_name + " --help'");
    }
    auto eq = arg.find('=');
    std::string name(arg.substr(0, eq));
    std::optional<std::string> value;
    if (eq != std::string_view::npos) value = std::string(arg.substr(eq + 1));

    if (name == "--password")
      throw usage_error(
          "kage takes no --password option: a command line is visible to every user of the "
          "machine and lands in shell history; set REDISCLI_AUTH, use --password-file FILE, "
          "or put redis.password in the config file");

    const setting_spec* found = nullptr;
    bool allowed = false;
    for (const auto& spec : setting_table())
      for (const auto& f : spec.flags)
        if (!f.name.empty() && f.name == name && !allowed) {  // this command's row wins
          found = &spec;
          allowed = f.commands & cmd.bit;
        }
    if (!found) {
      auto candidates = flags_for(cmd.bit);
      candidates.emplace_back("--help");
      throw usage_error("unknown option " + quoted(name) + " for 'kage " + cmd_name + "'" +
                        did_you_mean(closest(name, candidates)) + "; run 'kage " + cmd_name +
                        " --help'");
    }
    if (!allowed) throw usage_error(wrong_command_message(name, cmd));

    bool is_switch = std::holds_alternative<bool settings::*>(found->target);
    if (!is_switch && !value) {
      // A following "--x" is the next option, not a value: the value was forgotten.
      if (i + 1 < argc && !std::string_view(argv[i + 1]).starts_with("--")) value = argv[++i];
    }
    if (!is_switch && (!value || value->empty()))
      throw usage_error("option " + quoted(name) + " needs a value (" + name + " " +
                        std::string(found->metavar) + ")");
    uses.push_back({found, name, value});
  }
  return uses;
}

}  // namespace

settings load_settings(int argc, const char* const* argv,
                       const std::map<std::string, std::string>& env) {
  settings result;
  if (argc < 2) {
    result.command = "help";
    return result;
  }
  std::string_view first = argv[1];
  const command_info* cmd = find_command(first);

  // Help and version short-circuit everything else, so a broken config cannot hide them.
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      result.command = "help";
      if (cmd && cmd->bit) result.help_topic = cmd->name;
      if (first == "help" && i > 2) result.help_topic = argv[2];
      return result;
    }
  }
  if (first == "help") {
    result.command = "help";
    if (argc > 2) {
      std::string_view topic = argv[2];
      const command_info* t = find_command(topic);
      if (!t) {
        std::vector<std::string> names;
        for (const auto& c : command_table()) names.emplace_back(c.name);
        throw usage_error("unknown command " + quoted(topic) + did_you_mean(closest(topic, names)) +
                          "; run 'kage --help' to see the commands");
      }
      if (t->bit) result.help_topic = t->name;
    }
    return result;
  }
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--version") {
      result.command = "version";
      return result;
    }
  }
  if (first == "version") {
    result.command = "version";
    return result;
  }

  if (!cmd) {
    std::vector<std::string> names;
    for (const auto& c : command_table()) names.emplace_back(c.name);
    if (first.starts_with("-")) {
      for (int i = 2; i < argc; ++i)
        if (const auto* later = find_command(argv[i]))
          throw usage_error("the command comes first: 'kage " + std::string(later->name) + " " +
                            std::string(first) + " ...'; run 'kage --help' to see the commands");
      throw usage_error("kage needs a command before " + quoted(first) +
                        ", as in 'kage backup --node HOST:PORT --to LOCATION'; run 'kage --help' "
                        "to see the commands");
    }
    throw usage_error("unknown command " + quoted(first) + did_you_mean(closest(first, names)) +
                      "; run 'kage --help' to see the commands");
  }

  auto uses = parse_flags(argc, argv, *cmd);

  loader l;
  l.s.command = cmd->name;
  // The file is the lowest layer, yet --config sits among the flags: find it first.
  std::string config_file;
  if (auto it = env.find("KAGE_CONFIG"); it != env.end()) config_file = it->second;
  for (const auto& u : uses)
    if (u.flag == "--config") config_file = *u.value;
  if (!config_file.empty()) l.load_file(config_file);

  l.load_env(env);

  layer flags{"the command line", {}};
  for (const auto& u : uses)
    l.assign(*u.spec, u.value ? std::string_view(*u.value) : std::string_view("true"), u.flag,
             flags);
  l.check_layer(flags);
  l.s.config_file = config_file;

  l.finish();
  return l.s;
}

std::string describe_settings(const settings& s) {
  // Built as a tree so sections nest like the config file; yaml-cpp keeps insertion order.
  YAML::Node root(YAML::NodeType::Map);  // a default Node has no storage for copies to share
  for (const auto& spec : setting_table()) {
    if (spec.key.empty()) continue;
    std::vector<std::string> parts;
    for (auto rest = spec.key;;) {
      auto dot = rest.find('.');
      parts.emplace_back(rest.substr(0, dot));
      if (dot == std::string_view::npos) break;
      rest.remove_prefix(dot + 1);
    }
    // reset() rebinds the handle; plain assignment would overwrite the node it refers to.
    YAML::Node node = root;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) node.reset(node[parts[i]]);
    const auto& leaf = parts.back();
    std::visit(
        [&](auto m) {
          const auto& v = s.*m;
          using type = std::remove_cvref_t<decltype(v)>;
          if constexpr (std::is_same_v<type, std::optional<std::string>>) {
            if (v) node[leaf] = spec.secret ? std::string("<redacted>") : *v;
          } else if constexpr (std::is_same_v<type, std::string>) {
            node[leaf] = spec.secret && !v.empty() ? std::string("<redacted>") : v;
          } else if constexpr (std::is_same_v<type, std::vector<std::string>>) {
            YAML::Node list(YAML::NodeType::Sequence);
            list.SetStyle(YAML::EmitterStyle::Flow);  // "nodes: [a:1, b:2]", like the example
            for (const auto& item : v) list.push_back(item);
            node[leaf] = list;
          } else if constexpr (std::is_same_v<type, int>) {
            if (v > 0)
              node[leaf] = v;
            else
              node[leaf] = YAML::Node(YAML::NodeType::Null);  // 0 = unset (no schedule)
          } else {
            node[leaf] = v;
          }
        },
        spec.target);
  }
  YAML::Emitter out;
  out << root;
  std::string text = "# kage: effective settings (defaults < config file < environment < flags)\n";
  if (!s.config_file.empty()) text += "# config file: " + s.config_file + "\n";
  return text + out.c_str() + "\n";
}

std::vector<std::string> option_names(const std::string& command) {
  const command_info* cmd = find_command(command);
  return flags_for(cmd && cmd->bit ? cmd->bit : k_all);
}

namespace {

constexpr std::string_view k_precedence =
    "Where settings come from, each overriding the one before:\n"
    "  built-in defaults < config file (--config FILE or KAGE_CONFIG) < environment < flags.\n"
    "  A list given by flags (--node, --pattern; repeat them for more) replaces the list from\n"
    "  the config file or environment. 'kage config' prints the result.\n";

constexpr std::string_view k_password =
    "Password: never on the command line, where every user of the machine can read it. Set\n"
    "  REDISCLI_AUTH, or use --password-file FILE (REDIS_PASSWORD_FILE), or put redis.password\n"
    "  or redis.password_file in the config file. --user (REDIS_USER) names the ACL user.\n";

constexpr std::string_view k_exit_codes =
    "Exit codes:\n"
    "  0    success\n"
    "  1    failure not covered below\n"
    "  2    usage or configuration error (bad option or value, unknown setting, unreadable\n"
    "       config file)\n"
    "  3    Redis unreachable, authentication refused, or cluster unusable\n"
    "  4    backup store unreadable or unwritable\n"
    "  5    backup corrupt or truncated\n"
    "  6    incompatible: no such backup, or the target cannot load the backup's RDB version\n"
    "  130  interrupted (SIGINT or SIGTERM)\n";

std::string default_of(const setting_spec& spec) {
  if (!spec.default_text.empty()) return std::string(spec.default_text);
  const settings defaults;
  return std::visit(
      [&](auto m) -> std::string {
        const auto& v = defaults.*m;
        using type = std::remove_cvref_t<decltype(v)>;
        if constexpr (std::is_same_v<type, int>) return std::to_string(v);
        if constexpr (std::is_same_v<type, std::string>) return v;
        return "";
      },
      spec.target);
}

// "[env X; config a.b; default D]": the three other places the same setting lives.
std::string sources_of(const setting_spec& spec, bool key_shown) {
  std::vector<std::string> parts;
  for (auto e : spec.env)
    if (!e.empty()) parts.push_back("env " + std::string(e));
  if (!spec.key.empty() && !key_shown) parts.push_back("config " + std::string(spec.key));
  if (!spec.choices.empty()) {
    std::string c(spec.choices);
    parts.push_back("one of " + c);
  } else if (std::holds_alternative<int settings::*>(spec.target) && spec.max != INT_MAX) {
    parts.push_back("1 to " + std::to_string(spec.max));
  }
  if (auto d = default_of(spec); !d.empty()) parts.push_back("default " + d);
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out.empty() ? "" : "[" + out + "]";
}

// Words of text from the current column (`at`) on, wrapped under `indent` within `width`.
void wrap(std::ostringstream& out, std::string_view text, std::size_t at, std::size_t indent) {
  constexpr std::size_t width = 92;
  bool first = true;
  while (!(text = trim(text)).empty()) {
    auto space = text.find(' ');
    auto word = text.substr(0, space);
    if (!first && at + 1 + word.size() > width) {
      out << "\n" << std::string(indent, ' ');
      at = indent;
    } else if (!first) {
      out << ' ';
      ++at;
    }
    out << word;
    at += word.size();
    first = false;
    text.remove_prefix(word.size());
  }
  out << "\n";
}

// One option: its name and value in a column, what it does, then its other sources.
void option_line(std::ostringstream& out, const std::string& left, const setting_spec& spec,
                 bool left_is_key) {
  constexpr std::size_t column = 28;
  std::string line = "  " + left;
  if (line.size() + 2 <= column)
    line += std::string(column - line.size(), ' ');
  else
    line += "\n" + std::string(column, ' ');
  out << line;
  wrap(out, spec.help, column, column);
  if (auto src = sources_of(spec, left_is_key); !src.empty()) {
    out << std::string(column, ' ');
    wrap(out, src, column, column + 1);
  }
}

std::string overview() {
  std::ostringstream out;
  out << "kage - back up and restore Redis Clusters\n\n"
      << "Usage: kage COMMAND [OPTIONS]\n\n"
      << "Commands:\n";
  for (const auto& c : command_table()) {
    std::string name(c.name);
    out << "  " << name << std::string(10 - name.size(), ' ') << c.summary << "\n";
  }
  out << "\nExamples:\n"
      << "  kage backup --node 127.0.0.1:7000 --to /var/backups/redis [--pattern 'user:*']\n"
      << "  kage restore --node 127.0.0.1:7100 --from /var/backups/redis [--id ID] [--replace]\n"
      << "  kage verify --from /var/backups/redis [--id ID]\n"
      << "  kage list --from /var/backups/redis\n"
      << "  kage show --from /var/backups/redis [--id ID]\n"
      << "  kage snapshot --node 127.0.0.1:7000 --to /var/backups/redis [--target prefer-replica]\n"
      << "  kage fetch --from /var/backups/redis --node-id ID --to /data\n"
      << "  kage config\n\n"
      << k_precedence << "\n"
      << k_password << "\n"
      << k_exit_codes << "\n"
      << "Run 'kage COMMAND --help' for a command's options, their environment variables and\n"
      << "defaults.\n";
  return out.str();
}

}  // namespace

std::string help_text(const std::string& command) {
  const command_info* cmd = find_command(command);
  if (!cmd || !cmd->bit) return overview();

  std::ostringstream out;
  out << "kage " << cmd->name << " - " << cmd->summary << "\n\n"
      << "Usage: " << cmd->usage << "\n\n"
      << cmd->details << "\n"
      << "Examples:\n"
      << cmd->examples << "\n"
      << "Options:\n";
  for (const auto& spec : setting_table())
    for (const auto& f : spec.flags)
      if (!f.name.empty() && (f.commands & cmd->bit)) {
        std::string left(f.name);
        if (!spec.metavar.empty()) left += " " + std::string(spec.metavar);
        option_line(out, left, spec, false);
      }
  out << "  --help, -h                show this help\n";

  bool any_flagless = false;
  for (const auto& spec : setting_table()) {
    // Settings this command uses but takes no flag for (e.g. kage run's S3 part size).
    const unsigned bit = cmd->bit;
    if (!(spec.applies & bit) ||
        std::any_of(spec.flags.begin(), spec.flags.end(),
                    [bit](const flag_spec& f) { return !f.name.empty() && (f.commands & bit); }))
      continue;
    if (!any_flagless) out << "\nSettings without a flag here (environment or config file):\n";
    any_flagless = true;
    option_line(out, std::string(spec.key), spec, true);
  }

  out << "\n" << k_precedence << "\n";
  if (cmd->bit & k_redis) out << k_password << "\n";
  out << k_exit_codes;
  return out.str();
}

}  // namespace kage::cli

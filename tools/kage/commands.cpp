#include "kage/commands.hpp"

namespace kage::cli::detail {

const std::vector<command_info>& command_table() {
  static const std::vector<command_info> table = {
      {"backup", k_backup, "copy a Redis Cluster's keys into a new backup",
       "kage backup --node HOST:PORT --to LOCATION [OPTIONS]",
       "Connects through any node given with --node, discovers the cluster's masters, copies\n"
       "their keys (all of them, or those matching --pattern) with their TTLs into a new backup\n"
       "under --to, and prints the new backup's ID. With --pods SELECTOR (Kubernetes) it also\n"
       "keeps each matching pod's nodes.conf, read by exec from NODECONF_FILE_PATH (default\n"
       "/bitnami/redis/data/nodes.conf), byte for byte with its SHA-256 and node id; a pod whose\n"
       "file cannot be read is warned about and recorded, and does not fail the backup.\n",
       "  kage backup --node 127.0.0.1:7000 --to /var/backups/redis\n"
       "  kage backup --node 127.0.0.1:7000 --to /var/backups/redis --pattern 'user:*'\n"
       "  kage backup --node redis-0.redis:6379 --to /backups --pods app.kubernetes.io/name=redis\n"
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
       "+psync (or +@admin). 'kage fetch' puts one node's files into its data directory.\n"
       "With --pods SELECTOR it also keeps each pod's own nodes.conf, as 'kage backup' does.\n",
       "  kage snapshot --node 127.0.0.1:7000 --to /var/backups/redis\n"
       "  kage snapshot --node 127.0.0.1:7000 --to /var/backups/redis --target prefer-replica\n"},
      {"fetch", k_fetch,
       "put one node's RDB and nodes.conf from a snapshot into its data directory",
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
      {"heal", k_heal, "keep a Redis Cluster or Sentinel deployment on Kubernetes whole",
       "kage heal --pods SELECTOR [--sentinel HOST:PORT --master-name NAME] [--namespace NS] "
       "[--once] [--dry-run] [--json] [OPTIONS]",
       "Watches the pods matching --pods (a label selector), reads the Redis of each (at the\n"
       "pod's IP, port --redis-port), plans what keeps the deployment whole, and acts: at once\n"
       "after a pod event (a new IP, Ready changing, a pod deleted), and every --interval\n"
       "seconds, until SIGTERM. With --lease on (auto: in a pod) only the holder of a Kubernetes\n"
       "Lease acts. Each action is logged, counted in /metrics (--listen) and posted as a\n"
       "Kubernetes Event on its pod. Each action is re-checked just before it is taken.\n"
       "--once runs one round; --dry-run prints the plan with the reason for each action and\n"
       "changes nothing; --json prints each round as one JSON line.\n"
       "\n"
       "Redis Cluster (no --sentinel): it reads CLUSTER NODES and, after acting, waits until the\n"
       "cluster agrees. Rules: an empty Ready pod is MEETed and made a replica of the master\n"
       "with the fewest replicas; a node seen at an old IP is MEETed at its pod's new one; a\n"
       "node is forgotten (on every node) only when a majority of masters see it FAIL for\n"
       "heal.forget_after_seconds, no pod carries it and it serves no slots; slots no live node\n"
       "serves are reported, and with --refill-from-backup --from LOCATION an empty joined pod\n"
       "takes them and their keys come back from the newest backup; a slot left open by a\n"
       "stuck migration is closed as redis-cli --cluster fix would; with --bootstrap, empty\n"
       "pods become a new cluster (never over data). While the view is uncertain (a failover,\n"
       "a recent change, many unready pods) only the first two rules act.\n"
       "\n"
       "Sentinel (--sentinel, repeatable, or redis.sentinel.* in the config): it asks every\n"
       "sentinel about --master-name and each pod's Redis for INFO replication. A pod that\n"
       "replicates from anything but the primary the sentinels name (or an empty stray master)\n"
       "gets REPLICAOF the primary; a sentinel that keeps entries for replicas or sentinels that\n"
       "are gone (old pod IPs) gets SENTINEL RESET, one sentinel at a time, each after the\n"
       "previous knows the other sentinels and the live replicas again. Nothing is done while a\n"
       "failover runs, the primary is seen down, or fewer sentinels answer than a quorum.\n"
       "\n"
       "The Kubernetes API is found through --kubeconfig/KUBECONFIG, else ~/.kube/config, else\n"
       "the pod's service account. 'kage run' heals too with heal.enabled in its config.\n",
       "  kage heal --pods app.kubernetes.io/instance=redis --dry-run\n"
       "  kage heal --pods app=redis --namespace prod --once --json\n"
       "  kage heal --pods app=redis --lease on --listen 0.0.0.0:9121 --log-format json\n"
       "  kage heal --pods app=redis --refill-from-backup --from s3://backups/redis\n"
       "  kage heal --pods app=redis --sentinel redis-0.redis-headless:26379 --master-name "
       "mymaster\n"},
      {"controller", k_controller, "run RedisBackup resources (kubectl apply a backup)",
       "kage controller [--namespace NS | --all-namespaces] [--max-concurrent N] [OPTIONS]",
       "Watches the RedisBackup resources (redis.io/v1, short name rb; the CRD is\n"
       "k8s/deploy/redisbackup-crd.yaml) of --namespace, or of every namespace, and runs each one\n"
       "once, until SIGTERM. For method rdb it takes the snapshot 'kage snapshot' takes (every\n"
       "master's RDB over replication, or a healthy replica's with target prefer-replica) of the\n"
       "pods labelled --pods-label-key=<spec.clusterName> in the resource's namespace, at their\n"
       "IP and --redis-port, and streams it to spec.destination (s3://bucket/prefix or a\n"
       "directory) with no local copy; S3 credentials come from the settings, else from the\n"
       "mounted secret (--credentials-dir, /backup-credentials). Its status (merge-patched on\n"
       "/status) goes Pending -> Running -> Completed or Failed, with the pod that ran it, the\n"
       "times, backupSize, backupPath (give it to kage verify/restore/fetch --from as it is),\n"
       "checksumSHA256 (of the manifest), one entry per shard, or the error; each change is an\n"
       "Event and a metric (--listen). At most --max-concurrent run at once; the others wait as\n"
       "Pending. A backup never runs twice: one found Running that this controller does not run\n"
       "(it restarted, or another stopped) is marked Failed with the reason; deleting a\n"
       "RedisBackup cancels its backup. With --lease on (auto: in a pod) only the holder of the\n"
       "Lease controller.lease_name runs backups. Permissions: kage doctor --feature controller.\n",
       "  kage controller --namespace redis\n"
       "  kage controller --all-namespaces --max-concurrent 4 --listen 0.0.0.0:9121\n"
       "  kubectl apply -f k8s/deploy/redisbackup-crd.yaml && kubectl get rb\n"},
      {"doctor", k_doctor, "check that a deployment can work: config, Redis, stores, Kubernetes",
       "kage doctor [--node HOST:PORT | --sentinel HOST:PORT] [--to LOCATION] [--pods SEL] "
       "[--json]",
       "Checks, one line each, everything the configured deployment needs, and says how to fix\n"
       "what fails: the settings are valid; each Redis node (--node: every node of the cluster;\n"
       "--sentinel: every sentinel, the master it names, that primary) answers and accepts the\n"
       "credentials; the cluster is healthy (cluster_state:ok, all 16384 slots served); each\n"
       "location (--to, BACKUP_DIR, S3_BUCKET_NAME) takes a small object that is read back and\n"
       "deleted; and when Kubernetes is configured (--pods, --kubeconfig/KUBECONFIG, or running "
       "in\n"
       "a pod), the API server answers and grants, asked with SelfSubjectAccessReview, each\n"
       "permission the features need (--feature; k8s/deploy/role.yaml grants exactly these):\n"
       "  nodes-conf   list pods, create+get pods/exec       (backup/snapshot --pods)\n"
       "  heal         list+watch pods, get/create/update leases, create events\n"
       "  controller   get/list/watch redisbackups, patch redisbackups/status, create events,\n"
       "               list pods\n"
       "It changes nothing but the probe object. Exit 0 only when every check passes, else 1;\n"
       "a check that cannot run because an earlier one failed is reported as skipped.\n",
       "  kage doctor --config /etc/kage/kage.yaml\n"
       "  kage doctor --node redis-0:6379 --to s3://backups/redis --pods app=redis --json\n"
       "  kage doctor --sentinel 10.0.0.5:26379 --master-name mymaster --to /backups\n"},
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

}  // namespace kage::cli::detail

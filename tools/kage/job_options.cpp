#include "job_options.hpp"

namespace kage::cli {

engine::backup_options backup_options_from(const settings& s) {
  engine::backup_options o;
  o.patterns = s.patterns;
  o.scan_count = s.scan_count;
  o.window = s.window;
  o.prefer_replica = s.read_from == "prefer-replica";
  o.failover_timeout = std::chrono::milliseconds(s.failover_timeout_ms);
  o.compression_level = s.compression_level;
  return o;
}

engine::snapshot_options snapshot_options_from(const settings& s) {
  engine::snapshot_options o;
  o.prefer_replica = s.read_from == "prefer-replica";
  o.concurrency = s.concurrency;
  return o;
}

engine::restore_options restore_options_from(const settings& s) {
  engine::restore_options o;
  o.id = s.id;
  o.replace = s.replace;
  o.dry_run = s.dry_run;
  o.patterns = s.patterns;
  o.window = s.window;
  o.failover_timeout = std::chrono::milliseconds(s.failover_timeout_ms);
  return o;
}

engine::sentinel_options sentinel_options_from(const settings& s) {
  engine::sentinel_options o;
  o.nodes = s.sentinel_nodes;
  o.master_name = s.master_name;
  o.user = s.sentinel_user;
  o.password = s.sentinel_password;
  return o;
}

engine::fetch_options fetch_options_from(const settings& s) {
  engine::fetch_options o;
  o.id = s.id;
  o.node_id = s.node_id;
  o.data_dir = s.data_dir;
  o.rdb_name = s.rdb_name;
  o.force = s.force;
  return o;
}

proto::redis_config redis_config_from(const settings& s) {
  proto::redis_config c;
  c.user = s.user;
  c.password = s.password;
  c.tls.enabled = s.tls;
  c.tls.ca_file = s.ca_file;
  c.tls.cert_file = s.cert_file;
  c.tls.key_file = s.key_file;
  c.tls.sni = s.sni;
  c.tls.verify = !s.insecure;
  c.connect_timeout = std::chrono::milliseconds(s.connect_timeout_ms);
  c.read_timeout = std::chrono::milliseconds(s.read_timeout_ms);
  return c;
}

}  // namespace kage::cli

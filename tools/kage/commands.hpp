#pragma once
// The subcommands kage knows: names, help texts, and the bit each one has in the setting table.
#include <string_view>
#include <vector>

namespace kage::cli::detail {

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
  k_heal = 1u << 10,
  k_doctor = 1u << 11,
  k_controller = 1u << 12,
};
constexpr unsigned k_jobs =
    k_backup | k_restore | k_list | k_verify | k_show | k_snapshot | k_fetch | k_prune;
constexpr unsigned k_all = k_jobs | k_config | k_run | k_heal | k_doctor | k_controller;
constexpr unsigned k_redis =
    k_backup | k_restore | k_snapshot | k_config | k_run | k_heal | k_doctor | k_controller;
// The commands that talk to the Kubernetes API: --pods, --namespace, --kubeconfig, --context.
constexpr unsigned k_kube = k_backup | k_snapshot | k_heal | k_doctor | k_controller;
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

const std::vector<command_info>& command_table();
const command_info* find_command(std::string_view name);

}  // namespace kage::cli::detail

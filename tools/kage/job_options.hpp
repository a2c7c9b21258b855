#pragma once
// The engine's job options from the settings: one mapping for the one-shot commands and for
// `kage run`, so a new setting reaches both.
#include "settings.hpp"

#include <kage/engine/backup.hpp>
#include <kage/engine/restore.hpp>
#include <kage/engine/snapshot.hpp>

namespace kage::cli {

engine::backup_options backup_options_from(const settings& s);
engine::snapshot_options snapshot_options_from(const settings& s);
// restore.replace, --dry-run, --id and the patterns, as given.
engine::restore_options restore_options_from(const settings& s);
// --sentinel, --master-name and the sentinel credentials; no nodes: not Sentinel.
engine::sentinel_options sentinel_options_from(const settings& s);
engine::fetch_options fetch_options_from(const settings& s);  // kage fetch
// How to reach and authenticate to Redis: user, password, TLS, deadlines.
proto::redis_config redis_config_from(const settings& s);

}  // namespace kage::cli

#pragma once
// Private: the local directory store behind open_store("/path").
#include <kage/storage/store.hpp>

namespace kage::storage {

// root: a directory path as the user gave it (relative paths are relative to the working
// directory). The directory is created on the first write.
std::unique_ptr<store> make_local_store(std::string root);

}  // namespace kage::storage

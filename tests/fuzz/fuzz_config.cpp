// A kage config file (YAML), through the same loader as --config, then the checks across
// settings. Bad input must come out as usage_error naming the file, line and setting.
#include <cstddef>
#include <cstdint>
#include <string>

#include "kage/config_loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  kage::cli::detail::loader l;
  l.s.command = "run";
  try {
    l.load_text(text, "fuzz.yaml");
    l.s.password_file.clear();  // finish() would read whatever file the input names
    l.finish();
  } catch (const kage::cli::usage_error&) {
  }
  return 0;
}

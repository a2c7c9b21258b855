// A kubeconfig file and an exec plugin's ExecCredential answer. Malformed input must come out
// as kage::failure (naming file and field), never as another exception or a crash.
#include <kage/base/error.hpp>
#include <kage/k8s/kubeconfig.hpp>
#include <kage/k8s/status.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  try {
    auto config = kage::k8s::parse_kubeconfig(in, "fuzz.yaml", "/nonexistent");
    try {
      (void)kage::k8s::select_context(config);
    } catch (const kage::failure&) {
    }
  } catch (const kage::failure&) {
  }
  try {
    (void)kage::k8s::parse_exec_credential(in, "client.authentication.k8s.io/v1");
  } catch (const kage::failure&) {
  }
  (void)kage::k8s::parse_status(in);
  return 0;
}

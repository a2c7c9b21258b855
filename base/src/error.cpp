#include <kage/base/error.hpp>

namespace kage {

void fail(exit_code code, const std::string& message) { throw failure(code, message); }

}  // namespace kage

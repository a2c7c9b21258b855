#pragma once
// The API server's Status object (metav1.Status): what a failed request, a watch ERROR event and
// the exec error channel carry. The server's message is kept verbatim; a user reads it.
#include <kage/base/error.hpp>
#include <kage/k8s/error.hpp>

#include <boost/json/fwd.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kage::k8s {

struct status_cause {
  std::string reason;  // "FieldValueInvalid", "ExitCode" (JSON "reason", Go's Type)
  std::string message;
  std::string field;
};

struct status_details {
  std::string name;
  std::string group;
  std::string kind;
  std::string uid;
  std::vector<status_cause> causes;
  std::int64_t retry_after_seconds = 0;
};

struct status {
  std::string status;     // "Success" or "Failure", as sent (empty when absent)
  std::string message;    // the server's words, verbatim
  std::string reason;     // "NotFound", "Expired", ... (empty when absent)
  std::int64_t code = 0;  // the HTTP status code the Status stands for (0 when absent)
  status_details details;

  bool success() const noexcept { return status == "Success"; }
  // api_errc by reason, else by code; an empty error_code for a Success.
  boost::system::error_code error() const noexcept;
};

// A Status from JSON text, or from an already parsed JSON value. Absent fields stay empty; a
// non-object, a kind other than "Status", or a field of the wrong JSON type is malformed_status.
boost::system::result<status> parse_status(std::string_view json);
boost::system::result<status> parse_status(const boost::json::value& json);

// The api_errc for a failure known only by its HTTP status code (a body that is not a Status).
api_errc api_errc_for_http_status(int http_status) noexcept;

// A failure for a job to abandon on: "<doing>: <server message> (<reason>, HTTP <code>)",
// carrying the status's api_errc.
kage::failure to_failure(const status& s, std::string_view doing);

// One API request, as RBAC sees it.
struct api_request {
  std::string_view verb;         // get, list, watch, create, update, patch, delete
  std::string_view group;        // "" for the core group, "coordination.k8s.io", ...
  std::string_view resource;     // plural: "pods", "leases"
  std::string_view subresource;  // "exec", "status", or empty
  std::string_view namespace_;   // empty for cluster-scoped resources
};

// For a 401 or 403 answer: which verb on which resource in which namespace was refused, and for
// a 403 the Role (or ClusterRole, when cluster-scoped) rule that would allow it, such as
//   apiGroups: [""], resources: ["pods/exec"], verbs: ["create"]
std::string explain_refusal(int http_status, const api_request& request);

}  // namespace kage::k8s

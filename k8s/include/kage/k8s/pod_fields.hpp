#pragma once
// What kage keeps of a Pod in a reflector's cache: a real Pod is 5-20 KB of JSON (managedFields,
// the spec's containers, env, volumes, last-applied annotations) of which kage reads a few
// hundred bytes. Pass keep_pod_essentials as reflector_options::transform.
#include <boost/json/value.hpp>

namespace kage::k8s {

// Keeps what kage reads of a pod: metadata {name, namespace, uid, resourceVersion, labels,
// deletionTimestamp}, spec {nodeName}, status {phase, podIP, conditions: the Ready one (type,
// status)}; drops the rest.
void keep_pod_essentials(boost::json::value& pod);

}  // namespace kage::k8s

// Watches the pods of a namespace with kage's reflector (list + watch, as the healer does) and
// reports the process's peak RSS once the cache holds --pods objects and --updates MODIFIED
// events have been applied. Driven by bench/pods_rss.py against tests/fake_kube (bench/README.md).
//
//   pods_rss --kubeconfig FILE --namespace NS --pods N --updates U [--full] [--deadline S]
//
// Prints "synced" when the first list is complete (the driver then sends the updates), and at
// the end one JSON line: pods, updates seen, peak RSS (VmHWM) and RSS now, in KiB.
#include <kage/k8s/client.hpp>
#include <kage/k8s/pod_fields.hpp>
#include <kage/k8s/reflector.hpp>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

namespace asio = boost::asio;

namespace {

long status_kib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

struct args {
  std::string kubeconfig, ns = "default";
  std::size_t pods = 0, updates = 0;
  bool full = false;  // keep whole Pod objects (no transform), to compare
  int deadline_s = 300;
};

args parse(int argc, char** argv) {
  args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (k == "--kubeconfig")
      a.kubeconfig = next();
    else if (k == "--namespace")
      a.ns = next();
    else if (k == "--pods")
      a.pods = std::stoul(next());
    else if (k == "--updates")
      a.updates = std::stoul(next());
    else if (k == "--full")
      a.full = true;
    else if (k == "--deadline")
      a.deadline_s = std::stoi(next());
    else
      throw std::runtime_error("unknown argument " + k);
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) try {
  const args a = parse(argc, argv);
  const long baseline_kib = status_kib("VmRSS");
  asio::io_context io(1);
  kage::k8s::connection_settings where;
  where.kubeconfig = a.kubeconfig;
  kage::k8s::client api(io.get_executor(), kage::k8s::load_rest_config(where));
  kage::k8s::reflector_options o;
  o.namespace_ = a.ns;
  if (!a.full) o.transform = kage::k8s::keep_pod_essentials;
  std::size_t updates = 0;
  bool announced = false;
  bool done = false;
  kage::k8s::reflector_handlers h;
  kage::k8s::reflector* self = nullptr;
  auto check_done = [&] {
    if (!announced && self && self->cache().size() >= a.pods) {
      announced = true;
      std::cout << "synced " << self->cache().size() << std::endl;
    }
    if (announced && updates >= a.updates && !done) {
      done = true;
      io.stop();
    }
  };
  h.on_synced = check_done;
  h.on_add = [&](const boost::json::value&) { check_done(); };
  h.on_update = [&](const boost::json::value&, const boost::json::value&) {
    ++updates;
    check_done();
  };
  kage::k8s::reflector r(api, o, h);
  self = &r;
  asio::co_spawn(io, r.async_run(), [](std::exception_ptr) {});
  asio::steady_timer deadline(io, std::chrono::seconds(a.deadline_s));
  deadline.async_wait([&](boost::system::error_code ec) {
    if (!ec) io.stop();
  });
  io.run();
  const boost::json::object out{
      {"pods", r.cache().size()},         {"updates", updates},
      {"full_objects", a.full},           {"completed", done},
      {"baseline_rss_kib", baseline_kib}, {"peak_rss_kib", status_kib("VmHWM")},
      {"rss_kib", status_kib("VmRSS")},   {"lists", r.stats().lists},
      {"watches", r.stats().watches}};
  std::cout << boost::json::serialize(out) << std::endl;
  return done ? 0 : 1;
} catch (const std::exception& e) {
  std::cerr << "pods_rss: " << e.what() << "\n";
  return 2;
}

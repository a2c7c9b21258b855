#include <kage/k8s/client.hpp>

#include "credentials.hpp"

#include <kage/base/endpoint.hpp>
#include <kage/base/error.hpp>
#include <kage/base/http_client.hpp>
#include <kage/base/tls.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include <array>
#include <cstdlib>
#include <ctime>
#include <random>

namespace kage::k8s {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using boost::system::error_code;

// ---- Settings ----------------------------------------------------------------------------------

rest_config load_rest_config(const connection_settings& s) {
  auto from_list = [&](std::string_view list) {
    return select_context(load_kubeconfig_list(list), s.context);
  };
  if (!s.kubeconfig.empty()) return from_list(s.kubeconfig);
  if (const char* env = std::getenv("KUBECONFIG"); env && *env) return from_list(env);
  if (const char* home = std::getenv("HOME"); home && *home) {
    std::error_code ec;
    const auto file = std::filesystem::path(home) / ".kube" / "config";
    if (std::filesystem::exists(file, ec)) return from_list(file.string());
  }
  if (!s.context.empty())
    fail(exit_code::usage, make_error_code(errc::bad_kubeconfig),
         "--context " + s.context +
             " was given but there is no kubeconfig (no --kubeconfig, "
             "KUBECONFIG or ~/.kube/config)");
  return in_cluster_config_from_env(s.service_account_dir);
}

// ---- Paths and queries -------------------------------------------------------------------------

namespace {

std::string encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

struct query {
  std::string text;
  void add(std::string_view key, std::string_view value) {
    text += text.empty() ? '?' : '&';
    text += key;
    text += '=';
    text += encode(value);
  }
};

// "get pods "redis-0" in namespace "prod"": what was asked, for messages.
std::string describe(const api_request& rq, std::string_view name) {
  std::string text(rq.verb);
  text += ' ';
  text += rq.resource;
  if (!rq.group.empty()) text += "." + std::string(rq.group);
  if (!rq.subresource.empty()) text += "/" + std::string(rq.subresource);
  if (!name.empty()) text += " \"" + std::string(name) + "\"";
  if (!rq.namespace_.empty()) text += " in namespace \"" + std::string(rq.namespace_) + "\"";
  return text;
}

template <class Result>
void set_answer_error(Result& out, int http_status, std::string_view body, const api_request& rq,
                      std::string_view name) {
  out.http_status = http_status;
  auto st = parse_status(body);
  if (st && !st->success()) {
    if (st->code == 0) st->code = http_status;
    out.ec = st->error();
    out.message = to_failure(*st, describe(rq, name)).what();
    out.st = std::move(*st);
  } else {
    out.ec = make_error_code(api_errc_for_http_status(http_status));
    std::string text(body.substr(0, 300));
    out.message = describe(rq, name) + ": HTTP " + std::to_string(http_status) +
                  (text.empty() ? "" : " " + text);
  }
  if (http_status == 401 || http_status == 403)
    out.message += ". " + explain_refusal(http_status, rq);
}

template <class Result>
void set_transport_error(Result& out, error_code ec, const api_request& rq, std::string_view name,
                         std::string_view server) {
  out.ec = ec;
  out.message = describe(rq, name) + ": cannot reach the Kubernetes API server " +
                std::string(server) + ": " + ec.message();
}

std::string rfc3339_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

std::string resource_path(const resource& r, std::string_view ns, std::string_view name,
                          std::string_view subresource) {
  std::string p = r.group.empty() ? "/api/" + std::string(r.version)
                                  : "/apis/" + std::string(r.group) + "/" + std::string(r.version);
  if (r.namespaced && !ns.empty()) p += "/namespaces/" + encode(ns);
  p += "/" + std::string(r.plural);
  if (!name.empty()) p += "/" + encode(name);
  if (!subresource.empty()) p += "/" + std::string(subresource);
  return p;
}

void api_error::check() const {
  if (ec) fail(exit_code::failure, ec, message);
}

json::value make_event(const event_info& e) {
  const std::string now = rfc3339_now();
  json::object ev{
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"generateName", e.involved.name + "."}, {"namespace", e.involved.namespace_}}},
      {"involvedObject",
       {{"apiVersion", e.involved.api_version},
        {"kind", e.involved.kind},
        {"namespace", e.involved.namespace_},
        {"name", e.involved.name}}},
      {"type", e.type},
      {"reason", e.reason},
      {"message", e.message},
      {"source", {{"component", e.component}}},
      {"reportingComponent", e.component},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"count", 1}};
  if (!e.involved.uid.empty()) ev["involvedObject"].as_object()["uid"] = e.involved.uid;
  if (!e.host.empty()) ev["source"].as_object()["host"] = e.host;
  return ev;
}

// ---- Watch stream ------------------------------------------------------------------------------

struct watch_stream::impl {
  std::unique_ptr<http_stream> stream;
  watch_decoder decoder;
  std::string_view pending;  // bytes read but not yet fed (a view into the stream's buffer)
  std::chrono::milliseconds idle_timeout{};
};

watch_stream::watch_stream(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
watch_stream::~watch_stream() = default;

void watch_stream::close() noexcept {
  impl_->stream->close();
}

asio::awaitable<watch_next> watch_stream::async_next() {
  impl& w = *impl_;
  watch_next out;
  for (;;) {
    if (auto e = w.decoder.pop()) {
      out.event = std::move(*e);
      co_return out;
    }
    if (!w.pending.empty()) {
      auto used = w.decoder.feed(w.pending);
      if (!used) {
        out.ec = used.error();
        co_return out;
      }
      w.pending.remove_prefix(*used);
      continue;
    }
    auto [ec, piece] = co_await w.stream->async_read_some(w.idle_timeout);
    if (ec) {
      out.ec = ec;
      co_return out;
    }
    if (piece.empty()) {
      // The server ended the body: clean unless it stopped inside an event.
      if (w.decoder.mid_event()) out.ec = make_error_code(http::error::partial_message);
      co_return out;
    }
    w.pending = piece;
  }
}

// ---- The client --------------------------------------------------------------------------------

struct client::impl {
  asio::any_io_executor executor;
  rest_config config;
  client_options options;
  http_url origin;
  detail::credentials creds;
  std::shared_ptr<http_client> http;
  unsigned cert_generation = 0;
  std::mt19937_64 rng{std::random_device{}()};

  impl(asio::any_io_executor ex, rest_config c, client_options o)
      : executor(ex),
        config(std::move(c)),
        options(std::move(o)),
        creds(config, options.token_file_refresh, options.exec_plugin_timeout, options.log) {
    auto url = parse_http_url(config.server);
    if (!url)
      fail(exit_code::usage, url.error(),
           "the Kubernetes API server URL '" + config.server + "' (" + config.source +
               ") is not an http(s)://host[:port] URL: " + url.error().message());
    origin = *url;
    if (!config.proxy_url.empty())
      options.log.warn("k8s", "the kubeconfig's proxy-url is not supported; connecting directly");
    make_http();
  }

  void make_http() {
    http_client_options o;
    o.timeout = options.timeout;
    o.body_limit = options.body_limit;
    o.server_name = config.tls_server_name;
    if (origin.tls) {
      tls_client_options t;
      t.purpose = "Kubernetes API";
      t.ca_file = config.ca_file;
      t.ca_pem = config.ca_data;
      t.cert_file = config.client_certificate_file;
      t.key_file = config.client_key_file;
      t.cert_pem = config.client_certificate_data;
      t.key_pem = config.client_key_data;
      if (!creds.plugin_cert_pem().empty()) {
        t.cert_file.clear();
        t.key_file.clear();
        t.cert_pem = creds.plugin_cert_pem();
        t.key_pem = creds.plugin_key_pem();
      }
      t.verify = !config.insecure_skip_tls_verify;
      o.tls = make_tls_client_context(t);
    }
    http = std::make_shared<http_client>(executor, origin, std::move(o));
    cert_generation = creds.cert_generation();
  }

  std::string ns_or_default(const resource& r, std::string ns) const {
    if (r.namespaced && ns.empty()) return config.namespace_;
    return ns;
  }

  http_request make_request(http::verb method, const std::string& target,
                            const std::string& authorization) const {
    http_request req{method, origin.path + target, 11};
    req.set(http::field::host, origin.authority());
    req.set(http::field::user_agent, options.user_agent);
    req.set(http::field::accept, "application/json");
    if (!authorization.empty()) req.set(http::field::authorization, authorization);
    return req;
  }

  // Fresh credentials (and a new TLS context when an exec plugin changed the client
  // certificate), or the failure as a value.
  template <class Result>
  asio::awaitable<std::optional<std::string>> authorize(Result& out, const api_request& rq,
                                                        std::string_view name) {
    try {
      std::string auth = co_await creds.async_authorization();
      if (creds.cert_generation() != cert_generation) make_http();
      co_return auth;
    } catch (const kage::failure& f) {
      out.ec = f.error();
      out.message = describe(rq, name) + ": " + f.what();
      co_return std::nullopt;
    }
  }

  asio::awaitable<api_result> call(http::verb method, std::string target, std::string body,
                                   std::string content_type, api_request rq, std::string name) {
    api_result out;
    for (int attempt = 0;; ++attempt) {
      auto auth = co_await authorize(out, rq, name);
      if (!auth) co_return out;
      http_request req = make_request(method, target, *auth);
      if (!content_type.empty()) req.set(http::field::content_type, content_type);
      req.body() = body;
      req.prepare_payload();
      auto http_ = http;  // the transport may be replaced while this request runs
      auto answer = co_await http_->async_send(req);
      if (answer.ec) {
        set_transport_error(out, answer.ec, rq, name, config.server);
        co_return out;
      }
      const int code = answer.response.result_int();
      if (code == 401 && attempt == 0 && creds.invalidate()) continue;
      if (code < 200 || code > 299) {
        set_answer_error(out, code, answer.response.body(), rq, name);
        co_return out;
      }
      out.http_status = code;
      error_code jec;
      out.object = json::parse(answer.response.body(), jec);
      if (jec) {
        out.ec = make_error_code(errc::malformed_json);
        out.message = describe(rq, name) + ": the API server's answer is not JSON";
      }
      co_return out;
    }
  }
};

client::client(asio::any_io_executor ex, rest_config config, client_options options)
    : impl_(std::make_shared<impl>(ex, std::move(config), std::move(options))) {}
client::~client() = default;

const rest_config& client::config() const noexcept {
  return impl_->config;
}
const std::string& client::namespace_() const noexcept {
  return impl_->config.namespace_;
}
asio::any_io_executor client::get_executor() const noexcept {
  return impl_->executor;
}

asio::awaitable<api_result> client::async_get(resource r, std::string ns, std::string name) {
  auto self = impl_;
  ns = self->ns_or_default(r, std::move(ns));
  const api_request rq{"get", r.group, r.plural, {}, ns};
  co_return co_await self->call(http::verb::get, resource_path(r, ns, name), std::string(),
                                std::string(), rq, name);
}

asio::awaitable<list_result> client::async_list(resource r, std::string ns, list_options o) {
  auto self = impl_;
  list_result out;
  std::string cont;
  std::size_t limit = o.limit;
  for (int pages = 0;; ++pages) {
    query q;
    if (!o.label_selector.empty()) q.add("labelSelector", o.label_selector);
    if (!o.field_selector.empty()) q.add("fieldSelector", o.field_selector);
    if (limit > 0) q.add("limit", std::to_string(limit));
    if (!cont.empty()) q.add("continue", cont);
    const api_request rq{"list", r.group, r.plural, {}, ns};
    auto page = co_await self->call(http::verb::get, resource_path(r, ns) + q.text, std::string(),
                                    std::string(), rq, std::string());
    if (!page) {
      if (!cont.empty() && is_expired(page.ec)) {
        // The snapshot the pages came from is gone: one unpaged list, as client-go's pager.
        out.items.clear();
        cont.clear();
        limit = 0;
        continue;
      }
      static_cast<api_error&>(out) = std::move(page);
      out.items.clear();
      co_return out;
    }
    json::object* obj = page.object.if_object();
    json::array* items = nullptr;
    if (obj) {
      if (auto* it = obj->if_contains("items"); it && it->is_array()) items = &it->as_array();
      if (auto* it = obj->if_contains("items"); it && it->is_null()) {
        static json::array none;
        items = &none;
      }
    }
    if (!items) {
      out.ec = make_error_code(errc::malformed_json);
      out.message = describe({"list", r.group, r.plural, {}, ns}, {}) +
                    ": the API server's answer is not a list";
      out.items.clear();
      co_return out;
    }
    for (auto& item : *items) {
      if (o.transform) o.transform(item);
      out.items.push_back(std::move(item));
    }
    std::string next;
    if (auto* meta = obj->if_contains("metadata"); meta && meta->is_object()) {
      if (auto* rv = meta->as_object().if_contains("resourceVersion"); rv && rv->is_string())
        out.resource_version = rv->as_string();
      if (auto* c = meta->as_object().if_contains("continue"); c && c->is_string())
        next = c->as_string();
    }
    if (next.empty()) co_return out;
    if (pages > 100000) {
      out.ec = make_error_code(errc::too_large);
      out.message = "list " + std::string(r.plural) + ": the API server keeps sending pages";
      out.items.clear();
      co_return out;
    }
    cont = std::move(next);
  }
}

asio::awaitable<api_result> client::async_create(resource r, std::string ns, json::value object) {
  auto self = impl_;
  ns = self->ns_or_default(r, std::move(ns));
  std::string name;
  if (auto* m = object.is_object() ? object.as_object().if_contains("metadata") : nullptr)
    if (auto* n = m->is_object() ? m->as_object().if_contains("name") : nullptr)
      if (n->is_string()) name = n->as_string();
  const api_request rq{"create", r.group, r.plural, {}, ns};
  co_return co_await self->call(http::verb::post, resource_path(r, ns), json::serialize(object),
                                std::string("application/json"), rq, name);
}

asio::awaitable<api_result> client::async_update(resource r, std::string ns, std::string name,
                                                 json::value object) {
  auto self = impl_;
  ns = self->ns_or_default(r, std::move(ns));
  const api_request rq{"update", r.group, r.plural, {}, ns};
  co_return co_await self->call(http::verb::put, resource_path(r, ns, name),
                                json::serialize(object), std::string("application/json"), rq, name);
}

asio::awaitable<api_result> client::async_merge_patch(resource r, std::string ns, std::string name,
                                                      json::value patch, std::string subresource) {
  auto self = impl_;
  ns = self->ns_or_default(r, std::move(ns));
  const api_request rq{"patch", r.group, r.plural, subresource, ns};
  co_return co_await self->call(http::verb::patch, resource_path(r, ns, name, subresource),
                                json::serialize(patch), std::string("application/merge-patch+json"),
                                rq, name);
}

asio::awaitable<api_result> client::async_delete(resource r, std::string ns, std::string name) {
  auto self = impl_;
  ns = self->ns_or_default(r, std::move(ns));
  const api_request rq{"delete", r.group, r.plural, {}, ns};
  co_return co_await self->call(http::verb::delete_, resource_path(r, ns, name), std::string(),
                                std::string(), rq, name);
}

asio::awaitable<api_result> client::async_create_event(event_info e) {
  if (e.involved.namespace_.empty()) e.involved.namespace_ = impl_->config.namespace_;
  co_return co_await async_create(events_resource, e.involved.namespace_, make_event(e));
}

asio::awaitable<watch_result> client::async_watch(resource r, std::string ns, watch_options o) {
  auto self = impl_;
  watch_result out;
  const api_request rq{"watch", r.group, r.plural, {}, ns};
  query q;
  q.add("watch", "1");
  if (!o.resource_version.empty()) q.add("resourceVersion", o.resource_version);
  if (o.bookmarks) q.add("allowWatchBookmarks", "true");
  if (o.timeout.count() > 0) q.add("timeoutSeconds", std::to_string(o.timeout.count()));
  if (!o.label_selector.empty()) q.add("labelSelector", o.label_selector);
  if (!o.field_selector.empty()) q.add("fieldSelector", o.field_selector);
  const std::string target = resource_path(r, ns) + q.text;
  for (int attempt = 0;; ++attempt) {
    auto auth = co_await self->authorize(out, rq, {});
    if (!auth) co_return out;
    http_request req = self->make_request(http::verb::get, target, *auth);
    auto http_ = self->http;
    auto [ec, stream] = co_await http_->async_open(req);
    if (ec) {
      set_transport_error(out, ec, rq, {}, self->config.server);
      co_return out;
    }
    const int code = stream->status();
    if (code == 401 && attempt == 0 && self->creds.invalidate()) continue;
    if (code != 200) {
      auto [bec, body] = co_await stream->async_read_body(1 << 20, self->options.timeout);
      (void)bec;  // a body cut short still says what it can
      set_answer_error(out, code, body, rq, {});
      co_return out;
    }
    out.http_status = code;
    auto w = std::make_unique<watch_stream::impl>();
    w->stream = std::move(stream);
    // The server ends the watch at its timeout; silence well past it is a dead connection.
    w->idle_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
        (o.timeout.count() > 0 ? o.timeout : std::chrono::seconds(1800)) +
        std::chrono::seconds(60));
    out.stream = std::make_unique<watch_stream>(std::move(w));
    co_return out;
  }
}

// ---- Exec --------------------------------------------------------------------------------------

namespace {

ws_mask_key random_mask(std::mt19937_64& rng) {
  const auto v = rng();
  return {static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8),
          static_cast<std::uint8_t>(v >> 16), static_cast<std::uint8_t>(v >> 24)};
}

}  // namespace

namespace {

// Opens the exec WebSocket (one retry after a 401 with fresh credentials); null with out's
// error set when the server refused or the upgrade did not complete.
asio::awaitable<std::unique_ptr<http_stream>> open_exec_stream(std::shared_ptr<client::impl> self,
                                                               const api_request& rq,
                                                               const std::string& name,
                                                               const std::string& target,
                                                               exec_outcome& out) {
  for (int attempt = 0;; ++attempt) {
    auto auth = co_await self->authorize(out, rq, name);
    if (!auth) co_return nullptr;
    http_request req = self->make_request(http::verb::get, target, *auth);
    std::array<std::uint8_t, 16> nonce;
    for (auto& b : nonce) b = static_cast<std::uint8_t>(self->rng());
    auto up = make_ws_upgrade_request(nonce);
    for (const auto& [k, v] : up.headers) req.set(k, v);
    auto http_ = self->http;
    auto [ec, s] = co_await http_->async_open(req);
    if (ec) {
      set_transport_error(out, ec, rq, name, self->config.server);
      co_return nullptr;
    }
    const int code = s->status();
    if (code == 401 && attempt == 0 && self->creds.invalidate()) continue;
    if (code != 101) {
      auto [bec, body] = co_await s->async_read_body(1 << 20, self->options.timeout);
      (void)bec;
      set_answer_error(out, code, body, rq, name);
      co_return nullptr;
    }
    std::vector<std::pair<std::string_view, std::string_view>> headers;
    for (const auto& f : s->header()) headers.emplace_back(f.name_string(), f.value());
    auto chosen = check_ws_upgrade_response(code, headers, up.key);
    if (!chosen) {
      out.ec = chosen.error();
      out.message =
          describe(rq, name) + ": the WebSocket upgrade failed: " + chosen.error().message();
      co_return nullptr;
    }
    out.protocol = *chosen;
    co_return std::move(s);
  }
}

// One exec conversation after the upgrade: stdin out, frames in until the server closes, the
// outcome filled as it goes. Each step answers false when it failed (out says why).
struct exec_session {
  std::shared_ptr<client::impl> self;
  const api_request& rq;
  const std::string& name;
  http_stream& stream;
  const exec_options& options;
  exec_outcome& out;
  std::string status_text;  // the status channel's bytes: how the command ended

  bool fail(error_code ec, std::string_view what) {
    out.ec = ec;
    out.message = describe(rq, name) + ": " + std::string(what);
    return false;
  }
  bool transport_failed(error_code ec, std::string_view doing) {
    return fail(ec, std::string(doing) + ": " + ec.message());
  }

  asio::awaitable<error_code> send(ws_opcode op, std::string_view payload) {
    std::string frame;
    ws_encode_frame(frame, op, payload, random_mask(self->rng));
    co_return co_await stream.async_write_raw(asio::buffer(frame), self->options.timeout);
  }

  asio::awaitable<void> send_close(std::uint16_t code) {
    std::string frame;
    ws_encode_close(frame, code, "", random_mask(self->rng));
    co_await stream.async_write_raw(asio::buffer(frame), self->options.timeout);
  }

  asio::awaitable<bool> send_stdin(std::string_view rest) {
    while (!rest.empty()) {
      const auto piece = rest.substr(0, std::size_t{1} << 20);
      rest.remove_prefix(piece.size());
      auto ec = co_await send(ws_opcode::binary, exec_data(exec_stream::stdin_stream, piece));
      if (ec) co_return transport_failed(ec, "sending stdin");
    }
    if (out.protocol == channel_protocol::v5) {
      auto ec = co_await send(ws_opcode::binary, exec_close(exec_stream::stdin_stream));
      if (ec) co_return transport_failed(ec, "closing stdin");
    }
    co_return true;
  }

  // stdout/stderr bytes to the sink, or captured up to the limit.
  asio::awaitable<bool> on_output(exec_stream which, std::string_view data) {
    const bool is_out = which == exec_stream::stdout_stream;
    (is_out ? out.out_bytes : out.err_bytes) += data.size();
    if (options.sink) {
      co_await options.sink(which, data);
      co_return true;
    }
    std::string& into = is_out ? out.out : out.err;
    if (into.size() + data.size() > options.capture_limit) {
      stream.close();
      co_return fail(make_error_code(errc::too_large),
                     std::string("the command's ") + (is_out ? "stdout" : "stderr") + " is over " +
                         std::to_string(options.capture_limit) + " bytes");
    }
    into.append(data);
    co_return true;
  }

  asio::awaitable<bool> on_binary(std::string_view payload) {
    auto m = parse_exec_message(payload, out.protocol);
    if (!m) co_return fail(m.error(), m.error().message());
    if (m->closed || m->data.empty()) co_return true;
    if (m->stream == exec_stream::error_stream) {
      if (status_text.size() + m->data.size() > (std::size_t{64} << 10))
        co_return fail(make_error_code(errc::too_large), "the command's status is over 64 KiB");
      status_text.append(m->data);
      co_return true;
    }
    if (m->stream != exec_stream::stdout_stream && m->stream != exec_stream::stderr_stream)
      co_return true;
    auto ok = co_await on_output(m->stream, m->data);
    co_return ok;
  }

  // Frames until the server's close frame (or a hang-up after the status); true when it ended.
  asio::awaitable<bool> pump() {
    ws_limits limits;
    limits.max_frame = limits.max_message = std::size_t{4} << 20;
    ws_decoder decoder(limits);
    std::vector<char> buf(64 * 1024);
    std::string_view pending;
    for (;;) {
      auto msg = decoder.pop();
      if (!msg) {
        if (!pending.empty()) {
          auto used = decoder.feed(pending);
          if (!used) {
            co_await send_close(used.error() == errc::too_large ? 1009 : 1002);
            co_return fail(used.error(), used.error().message());
          }
          pending.remove_prefix(*used);
          continue;
        }
        auto [ec, n] = co_await stream.async_read_raw(asio::buffer(buf), options.idle_timeout);
        if (ec) {
          if ((ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) &&
              !decoder.mid_message() && !status_text.empty())
            co_return true;  // the server sent how the command ended, then hung up without a close
          co_return transport_failed(ec, "the exec stream ended before the command's status");
        }
        pending = std::string_view(buf.data(), n);
        continue;
      }
      if (msg->opcode == ws_opcode::ping) {
        auto ec = co_await send(ws_opcode::pong, msg->payload);
        if (ec) co_return transport_failed(ec, "answering a ping");
      } else if (msg->opcode == ws_opcode::close) {
        co_await send_close(ws_close_normal);
        co_return true;
      } else if (msg->opcode == ws_opcode::binary) {
        auto ok = co_await on_binary(msg->payload);
        if (!ok) co_return false;
      }  // text and pong messages carry nothing for exec
    }
  }
};

}  // namespace

asio::awaitable<exec_outcome> client::async_exec(exec_request request, exec_options options) {
  auto self = impl_;
  exec_outcome out;
  if (request.namespace_.empty()) request.namespace_ = self->config.namespace_;
  const api_request rq{"create", "", "pods", "exec", request.namespace_};
  const std::string& name = request.pod;
  query q;
  for (const auto& c : request.command) q.add("command", c);
  if (!request.container.empty()) q.add("container", request.container);
  q.add("stdout", "true");
  q.add("stderr", "true");
  if (request.stdin_data) q.add("stdin", "true");
  const std::string target =
      resource_path(pods_resource, request.namespace_, request.pod, "exec") + q.text;

  auto stream = co_await open_exec_stream(self, rq, name, target, out);
  if (!stream) co_return out;
  exec_session session{self, rq, name, *stream, options, out, {}};
  if (request.stdin_data) {
    const bool sent = co_await session.send_stdin(*request.stdin_data);
    if (!sent) co_return out;
  }
  const bool ended = co_await session.pump();
  if (!ended) co_return out;
  auto result = parse_exec_status(session.status_text);
  if (!result) {
    out.ec = result.error();
    out.message = describe(rq, name) +
                  ": the command's status cannot be read: " + session.status_text.substr(0, 300);
    co_return out;
  }
  out.result = std::move(*result);
  stream->close();
  co_return out;
}

}  // namespace kage::k8s

// kage's SigV4 signer against botocore's, on a sample of S3 requests (the image's Python).
#include <boost/test/unit_test.hpp>

#include "fixture_process.hpp"

#include <kage/storage/sigv4.hpp>

#include <boost/json.hpp>

using namespace kage::storage;
using namespace kage::test;

namespace {

const char* script = R"PY(
import json, sys
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
out = []
for r in json.load(sys.stdin):
    creds = Credentials(r["ak"], r["sk"], r["token"] or None)
    req = AWSRequest(method=r["method"], url=r["url"], data=r["body"].encode())
    req.context["timestamp"] = r["date"]
    req.headers["X-Amz-Content-SHA256"] = r["payload"]
    for k, v in r["headers"]:
        req.headers[k] = v
    auth = S3SigV4Auth(creds, "s3", r["region"])
    auth._timestamp = lambda: r["date"]
    req.headers["X-Amz-Date"] = r["date"]
    canonical = auth.canonical_request(req)
    sts = auth.string_to_sign(req, canonical)
    out.append(auth.signature(sts, req))
print(json.dumps(out))
)PY";

struct sample {
  std::string method, host, path;
  std::vector<std::pair<std::string, std::string>> query, headers;
  std::string body, region, token;
};

}  // namespace

BOOST_AUTO_TEST_CASE(signatures_match_botocore) {
  const std::vector<sample> samples = {
      {"PUT",
       "127.0.0.1:9000",
       "/bucket/prod/20261122T021155.123Z/shard-00.resp.zst",
       {},
       {{"Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="}},
       "",
       "us-east-1",
       ""},
      {"PUT",
       "s3.eu-west-1.amazonaws.com",
       "/b/key with spaces+plus",
       {{"partNumber", "7"}, {"uploadId", "abc~_.-XYZ"}},
       {},
       "part bytes",
       "eu-west-1",
       ""},
      {"POST",
       "bucket.s3.amazonaws.com",
       "/a/b",
       {{"uploads", ""}},
       {},
       "",
       "us-east-1",
       "session-token-value"},
      {"GET",
       "minio.local:9000",
       "/bucket",
       {{"list-type", "2"}, {"prefix", "redis"}, {"continuation-token", "x/y+z="}},
       {{"Range", "bytes=0-99"}},
       "",
       "us-west-2",
       ""},
      {"DELETE", "127.0.0.1:5000", "/bucket/k", {{"uploadId", "2~x"}}, {}, "", "ap-south-1", ""},
  };
  const std::string date = "20261122T031500Z";
  boost::json::array input;
  std::vector<std::string> ours;
  for (const auto& s : samples) {
    const std::string payload = sha256_hex_of(s.body);
    sigv4_request r;
    r.method = s.method;
    r.path = s.path;
    r.query = s.query;
    r.headers = {{"host", s.host}, {"x-amz-content-sha256", payload}, {"x-amz-date", date}};
    if (!s.token.empty()) r.headers.push_back({"x-amz-security-token", s.token});
    for (const auto& h : s.headers) r.headers.push_back(h);
    r.payload_sha256 = payload;
    ours.push_back(
        sigv4_sign(r, {s.region, "s3", date}, {"AKIAEXAMPLE", "secret/key+value", s.token})
            .signature);

    std::string url = "http://" + s.host + uri_encode(s.path, false);
    std::string qs;
    for (const auto& [k, v] : s.query)
      qs += (qs.empty() ? "?" : "&") + uri_encode(k, true) + "=" + uri_encode(v, true);
    boost::json::array headers;
    for (const auto& [k, v] : s.headers)
      headers.push_back(boost::json::array{boost::json::value(k), boost::json::value(v)});
    if (!s.token.empty())
      headers.push_back(boost::json::array{"X-Amz-Security-Token", boost::json::value(s.token)});
    input.push_back(boost::json::object{{"method", s.method},
                                        {"url", url + qs},
                                        {"body", s.body},
                                        {"payload", payload},
                                        {"headers", headers},
                                        {"region", s.region},
                                        {"date", date},
                                        {"ak", "AKIAEXAMPLE"},
                                        {"sk", "secret/key+value"},
                                        {"token", s.token}});
  }
  auto r = run_process({"python3", "-c", script}, {}, std::chrono::seconds(60),
                       boost::json::serialize(input));
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  auto theirs = boost::json::parse(r.out).as_array();
  BOOST_TEST_REQUIRE(theirs.size() == ours.size());
  for (std::size_t i = 0; i < ours.size(); ++i) {
    BOOST_TEST(ours[i].size() == 64u);
    BOOST_TEST(std::string(theirs[i].as_string()) == ours[i],
               samples[i].method << " " << samples[i].path);
  }
}

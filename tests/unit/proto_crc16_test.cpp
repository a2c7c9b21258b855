// CRC16 (XMODEM) and Redis Cluster key slots with hash tags.
#include <kage/proto/crc16.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace kp = kage::proto;
using namespace std::string_literals;

namespace {

// Independent bit-by-bit CRC-16/XMODEM (poly 0x1021, init 0, no reflection, no xorout).
std::uint16_t crc16_bitwise(std::string_view bytes) {
  std::uint16_t crc = 0;
  for (unsigned char c : bytes) {
    crc = static_cast<std::uint16_t>(crc ^ (c << 8));
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<std::uint16_t>(crc << 1);
    }
  }
  return crc;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(proto_crc16)

BOOST_AUTO_TEST_CASE(crc16_xmodem_check_value) {
  BOOST_TEST(kp::crc16("123456789") == 0x31C3);
  BOOST_TEST(kp::crc16("") == 0);
  // Values below were computed with an independent CRC-16/XMODEM implementation.
  BOOST_TEST(kp::crc16("foo") == 0xaf96);
  BOOST_TEST(kp::crc16("a\0b\xff"s) == 0x5cde);
}

BOOST_AUTO_TEST_CASE(crc16_matches_bitwise_reference) {
  std::mt19937 rng(16384);
  for (int i = 0; i < 2000; ++i) {
    std::string s;
    for (std::size_t n = rng() % 40; n > 0; --n) s.push_back(static_cast<char>(rng()));
    if (kp::crc16(s) != crc16_bitwise(s)) {
      BOOST_TEST(kp::crc16(s) == crc16_bitwise(s), "input #" << i);
      break;
    }
  }
  // Every single byte value (exercises the whole table).
  for (int c = 0; c < 256; ++c) {
    const std::string s(1, static_cast<char>(c));
    BOOST_TEST(kp::crc16(s) == crc16_bitwise(s), "byte " << c);
  }
}

BOOST_AUTO_TEST_CASE(key_slot_known_values) {
  // Well-known slots (redis-cli CLUSTER KEYSLOT).
  BOOST_TEST(kp::key_slot("foo") == 12182);
  BOOST_TEST(kp::key_slot("bar") == 5061);
  BOOST_TEST(kp::key_slot("hello") == 866);
  BOOST_TEST(kp::key_slot("123456789") == 12739);  // 0x31C3 & 16383
  BOOST_TEST(kp::key_slot("") == 0);
  BOOST_TEST(kp::slot_count == 16384);
}

BOOST_AUTO_TEST_CASE(key_slot_hash_tags) {
  const int user = kp::key_slot("user1000");
  BOOST_TEST(user == 3443);
  BOOST_TEST(kp::key_slot("{user1000}.following") == user);
  BOOST_TEST(kp::key_slot("{user1000}.followers") == user);
  BOOST_TEST(kp::key_slot("x{user1000}") == user);
  BOOST_TEST(kp::key_slot("{user1000}") == user);

  // The empty tag "{}" hashes the whole key.
  BOOST_TEST(kp::key_slot("foo{}{bar}") == (kp::crc16("foo{}{bar}") & 16383));
  BOOST_TEST(kp::key_slot("foo{}{bar}") == 8363);
  BOOST_TEST(kp::key_slot("{}") == (kp::crc16("{}") & 16383));

  // Only the first '{' and the first '}' after it count.
  BOOST_TEST(kp::key_slot("foo{{bar}}zap") == kp::key_slot("{bar"));
  BOOST_TEST(kp::key_slot("foo{{bar}}zap") == (kp::crc16("{bar") & 16383));
  BOOST_TEST(kp::key_slot("foo{{bar}}zap") == 4015);
  BOOST_TEST(kp::key_slot("foo{bar}{zap}") == kp::key_slot("bar"));
  BOOST_TEST(kp::key_slot("foo{bar}{zap}") == 5061);

  // No closing brace after the first '{': the whole key.
  BOOST_TEST(kp::key_slot("{") == (kp::crc16("{") & 16383));
  BOOST_TEST(kp::key_slot("foo{bar") == (kp::crc16("foo{bar") & 16383));
  BOOST_TEST(kp::key_slot("}{a") == (kp::crc16("}{a") & 16383));
  // A '}' before the '{' does not count.
  BOOST_TEST(kp::key_slot("}{a}") == kp::key_slot("a"));

  // Tags are binary.
  BOOST_TEST(kp::key_slot("x{a\0b\xff}y"s) == (kp::crc16("a\0b\xff"s) & 16383));
  BOOST_TEST(kp::key_slot("x{a\0b\xff}y"s) == 7390);
}

BOOST_AUTO_TEST_CASE(key_slot_is_always_in_range) {
  std::mt19937 rng(7);
  static constexpr char alphabet[] = "{}ab\0\xff";
  for (int i = 0; i < 5000; ++i) {
    std::string key;
    for (std::size_t n = rng() % 12; n > 0; --n)
      key.push_back(alphabet[rng() % (sizeof alphabet - 1)]);
    const int slot = kp::key_slot(key);
    if (slot < 0 || slot >= kp::slot_count) {
      BOOST_TEST(slot >= 0);
      BOOST_TEST(slot < kp::slot_count);
      break;
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

#pragma once
#include <cstdint>
#include <string_view>

namespace kage::proto {

inline constexpr int slot_count = 16384;

// CRC16-CCITT (XMODEM), the checksum Redis Cluster uses for key slots.
std::uint16_t crc16(std::string_view bytes) noexcept;

// The cluster slot of a key, honouring hash tags: "{user1000}.following" hashes "user1000";
// an empty tag "{}" hashes the whole key.
int key_slot(std::string_view key) noexcept;

}  // namespace kage::proto

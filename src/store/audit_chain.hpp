// The audit log's hash chain (store/admin.hpp): each row's hash covers the row and the hash before it.
#pragma once

#include <string>
#include <string_view>

#include "store/admin.hpp"

namespace gpuopt::store {

// HMAC-SHA256 (hex) under `key` of `entry.prev_hash` and every stored field of `entry`, its id included,
// each written with its length so that no two different rows read the same.
std::string AuditRowHash(std::string_view key, const AuditEntry& entry);

}  // namespace gpuopt::store

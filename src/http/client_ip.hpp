// Which address a request comes from, honouring X-Forwarded-For only from trusted proxies.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"

namespace gpuopt::http {

// `peer` is the socket's remote address. When it lies in `trusted`, X-Forwarded-For is read right to
// left and the first address not itself trusted is the client; malformed entries stop the walk and
// the last trusted hop is used. Without a trusted peer the header is ignored (it is client-controlled).
std::string ClientIp(std::string_view peer, std::string_view forwarded_for, const std::vector<Cidr>& trusted);

}  // namespace gpuopt::http

// The request/response types every handler sees.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace gpuopt::http {

namespace bhttp = boost::beast::http;
using Request = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;

// What the server knows about a request beyond its bytes.
struct RequestContext {
    const Request& request;
    std::string client_ip;                      // after TRUSTED_PROXIES processing
    std::string_view path;                      // target without the query string
    std::string_view query;                     // after '?', may be empty
    std::map<std::string, std::string> params;  // from {name} route segments
    std::string principal;                      // set by handlers for the access log (e.g. a key prefix)
    size_t metrics_slot = 0;                    // set by the server: which RequestMetrics slot counts it
};

using Handler = std::function<boost::asio::awaitable<Response>(RequestContext&)>;

}  // namespace gpuopt::http

// Shared by the operator API's handlers (api/admin_*.cpp).
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "api/admin.hpp"
#include "http/await.hpp"

namespace gpuopt::api {

inline constexpr size_t kAdminSessionChars = 43;  // base62: about 256 bits

// The Set-Cookie values that hand an admin session to the browser and take it back.
std::string AdminSetCookie(const Config& config, const std::string& value);
std::string AdminClearCookie(const Config& config);

// True for a request another site's page sent (Sec-Fetch-Site other than same-origin, or a foreign Origin).
bool OperatorRequestIsCrossSite(const Config& config, const http::Request& req);

// The admin session the request's cookie names, with its admin: nullopt without a cookie or when it has
// ended. Records the session's activity at most once a minute.
boost::asio::awaitable<Result<std::optional<OperatorCaller>>> FindAdminSessionCaller(Services& s,
                                                                                     const http::RequestContext& ctx);

// The panel's lists (api/admin_*.cpp): filters by name, and paging back with `before` (an id) and `limit`.
struct ListQuery {
    std::map<std::string, std::string> filters;  // only the names the list allows, each at most 200 bytes
    std::optional<int64_t> before;
    size_t limit = 50;
};
inline constexpr size_t kMaxListLimit = 500;

// Parses a list's query string: kValidation for a name it does not know, a value too long, or a `before` or
// `limit` that is not a positive integer.
Result<ListQuery> ParseListQuery(std::string_view query, std::initializer_list<std::string_view> filters);
std::optional<int64_t> PositiveInt(std::string_view text);

// The request's body as a JSON object (kValidation when it is not one).
Result<boost::json::object> JsonObjectBody(const http::Request& req);
// The operator's reason for an action: required, 3 to 500 characters, no control characters.
Result<std::string> ReasonField(const boost::json::object& body);

// The start of an operator action on `{id}`: the operator (a write: an admin session), the id (kValidation
// naming `what` when it is not one) and the JSON body.
struct OperatorAction {
    OperatorCaller caller;
    int64_t id = 0;
    boost::json::object body;
};
boost::asio::awaitable<std::variant<OperatorAction, http::Response>> BeginOperatorAction(Services& s,
                                                                                         http::RequestContext& ctx,
                                                                                         std::string_view what);

// Appends the audit row of an operator's action whose change was written elsewhere (an export, a check with a
// gateway): nullopt once it is durable, else the answer to send instead, for nothing may leave unrecorded.
boost::asio::awaitable<std::optional<http::Response>> AppendAuditRow(Services& s, store::AuditEntry audit,
                                                                     unsigned version);

// What the panel shows of a customer, a payment, a mail; a time or null.
boost::json::value TimeOrNull(const std::optional<SysSeconds>& t);
boost::json::object CustomerJson(const store::CustomerRow& c);
boost::json::object PaymentJson(const store::PaymentRow& p);
boost::json::object MailJson(const store::MailRow& m);

// {"status": "success", `name`: rows, "next_before": the last row's id when the page was full, else null}.
template <class Row, class ToJson, class IdOf>
boost::json::object PageJson(std::string_view name, const std::vector<Row>& rows, size_t limit, ToJson to_json,
                             IdOf id_of) {
    boost::json::array out;
    for (const auto& row : rows) out.push_back(to_json(row));
    boost::json::object body{{"status", "success"}};
    body[name] = std::move(out);
    if (rows.size() == limit && !rows.empty()) {
        body["next_before"] = id_of(rows.back());
    } else {
        body["next_before"] = nullptr;
    }
    return body;
}

}  // namespace gpuopt::api

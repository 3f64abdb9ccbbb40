// The operator's security view (api/admin.hpp):
//   GET    /api/admin/security-events?kind=&ip=&before=&limit=   newest first; kind: a prefix
//   GET    /api/admin/blocks                                     blocked addresses: by hand, and for failures
//   POST   /api/admin/blocks {ip, minutes, reason}               blocks by hand (minutes 0: until lifted)
//   DELETE /api/admin/blocks?ip=                                 lifts both kinds of block
// Blocks by hand live in the database and hold on every server (each loads them every 30 s, and at once
// when another announces a change); blocks for failures live in the address guard (and Redis when shared),
// and the list shows this server's.
#include <boost/asio/ip/address.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <spdlog/spdlog.h>

#include "api/admin.hpp"
#include "api/admin_internal.hpp"
#include "api/auth.hpp"
#include "common/json.hpp"
#include "http/await.hpp"
#include "http/error_response.hpp"
#include "http/query.hpp"

namespace gpuopt::api {

namespace {

constexpr int64_t kMaxBlockMinutes = 366LL * 24 * 60;

// The address in its canonical text (an IPv6 address has several spellings), or nullopt.
std::optional<std::string> CanonicalAddress(std::string_view text) {
    boost::system::error_code ec;
    auto address = boost::asio::ip::make_address(std::string(text), ec);
    if (ec) return std::nullopt;
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6()).to_string();
    }
    return address.to_string();
}

// Hands the blocks by hand to this server's guard now, and tells the other servers to load them.
// Here at once, and on the other servers when they hear of it.
Result<void> ReloadBlocks(Services& s) {
    if (s.guard != nullptr) {
        if (auto r = LoadAddressBlocks(s.store, *s.guard); !r) return r;
    }
    s.store.Announce(std::string(kAddressBlocksJob));
    return {};
}

boost::json::object BlockJson(const store::AddressBlock& b, SysSeconds now) {
    boost::json::object o{{"ip", b.ip},         {"source", "operator"},       {"until", TimeOrNull(b.until)},
                          {"reason", b.reason}, {"created_by", b.created_by}, {"created_at", FormatUtc(b.created_at)}};
    if (b.until) {
        o["seconds_left"] = std::max<int64_t>(0, (*b.until - now).count());
    } else {
        o["seconds_left"] = nullptr;
    }
    return o;
}

}  // namespace

Result<void> LoadAddressBlocks(store::Database& db, http::AddressGuard& guard) {
    auto blocks = db.panel().ListAddressBlocks(UtcNow());
    if (!blocks) return blocks.error();
    std::unordered_map<std::string, std::optional<SysSeconds>> manual;
    for (auto& b : *blocks) manual.emplace(std::move(b.ip), b.until);
    guard.SetManualBlocks(std::move(manual));
    return {};
}

http::Handler MakeAdminSecurityEventsHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        auto list = ParseListQuery(ctx.query, {"kind", "ip"});
        if (!list) co_return http::ErrorResponse(list.error(), version);
        store::SecurityEventQuery q{list->filters["kind"], list->filters["ip"], list->before, list->limit};
        const std::function<Result<std::vector<store::SecurityEvent>>()> read = [&s, &q] {
            return s.store.panel().ListSecurityEvents(q);
        };
        auto rows = co_await OffloadRead<std::vector<store::SecurityEvent>>(s, read);
        if (!rows) co_return http::ErrorResponse(rows.error(), version);
        auto to_json = [](const store::SecurityEvent& e) {
            return boost::json::object{
                {"id", e.id}, {"kind", e.kind}, {"ip", e.ip}, {"detail", e.detail}, {"at", FormatUtc(e.at)}};
        };
        co_return OkJson(
            PageJson("events", *rows, q.limit, to_json, [](const store::SecurityEvent& e) { return e.id; }), version,
            std::nullopt);
    };
}

http::Handler MakeAdminBlocksHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const SysSeconds now = UtcNow();
        const std::function<Result<std::vector<store::AddressBlock>>()> read = [&s, now] {
            return s.store.panel().ListAddressBlocks(now);
        };
        auto manual = co_await OffloadRead<std::vector<store::AddressBlock>>(s, read);
        if (!manual) co_return http::ErrorResponse(manual.error(), version);
        boost::json::array blocks;
        for (const auto& b : *manual) blocks.push_back(BlockJson(b, now));
        boost::json::object limit{{"max_failures", s.config.auth_failure_limit},
                                  {"window_seconds", s.config.auth_failure_window_seconds},
                                  {"block_seconds", s.config.auth_block_seconds}};
        if (s.guard != nullptr) {
            for (const auto& [ip, left] : s.guard->FailureBlocks()) {
                blocks.push_back(boost::json::object{
                    {"ip", ip},
                    {"source", "failures"},
                    {"until", FormatUtc(now + std::chrono::seconds(left))},
                    {"seconds_left", left},
                    {"reason", std::to_string(s.config.auth_failure_limit) + " failed authentications within " +
                                   std::to_string(s.config.auth_failure_window_seconds) + " s"},
                    {"created_by", "address guard"},
                    {"created_at", nullptr}});
            }
        }
        co_return OkJson(
            boost::json::object{{"status", "success"}, {"blocks", std::move(blocks)}, {"failure_limit", limit}},
            version, std::nullopt);
    };
}

http::Handler MakeAdminBlockHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const auto& caller = std::get<OperatorCaller>(auth);
        auto body = JsonObjectBody(ctx.request);
        if (!body) co_return http::ErrorResponse(body.error(), version);
        const auto* ip_field = body->if_contains("ip");
        auto ip =
            ip_field != nullptr && ip_field->is_string() ? CanonicalAddress(ip_field->get_string()) : std::nullopt;
        if (!ip) co_return http::ErrorResponse(Error::Validation("ip", "must be an IPv4 or IPv6 address"), version);
        if (CanonicalAddress(ctx.client_ip) == ip) {
            co_return http::ErrorResponse(
                Error::Validation("ip", "is the address this request comes from: it would lock you out"), version);
        }
        int64_t minutes = 0;
        if (const auto* m = body->if_contains("minutes"); m != nullptr && !m->is_null()) {
            if (!m->is_int64() || m->get_int64() < 0 || m->get_int64() > kMaxBlockMinutes) {
                co_return http::ErrorResponse(
                    Error::Validation("minutes", "must be a whole number from 0 (until lifted) to 527040 (a year)"),
                    version);
            }
            minutes = m->get_int64();
        }
        auto reason = ReasonField(*body);
        if (!reason) co_return http::ErrorResponse(reason.error(), version);
        const SysSeconds now = UtcNow();
        store::AddressBlock block{*ip, *reason, caller.actor, now, std::nullopt};
        if (minutes > 0) block.until = now + std::chrono::minutes(minutes);
        auto audit = AuditFor(caller, ctx, "address.block", "ip:" + *ip);
        audit.after =
            ToJson(boost::json::object{{"until", TimeOrNull(block.until)}, {"minutes", minutes}, {"reason", *reason}});
        auto write = [&](store::Callback<void> done) {
            s.store.panel().BlockAddress(block, std::move(audit), std::move(done));
        };
        if (auto written = co_await http::AwaitCallback<void>(std::move(write)); !written) {
            co_return http::ErrorResponse(written.error(), version);
        }
        if (auto r = ReloadBlocks(s); !r) spdlog::warn("address blocks not reloaded: {}", r.error().message);
        co_return OkJson(boost::json::object{{"status", "success"}, {"block", BlockJson(block, now)}}, version,
                         std::nullopt);
    };
}

http::Handler MakeAdminUnblockHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const auto& caller = std::get<OperatorCaller>(auth);
        auto query = http::ParseQuery(ctx.query);
        if (!query) co_return http::ErrorResponse(query.error(), version);
        auto it = query->find("ip");
        auto ip = it == query->end() ? std::nullopt : CanonicalAddress(it->second);
        if (!ip) co_return http::ErrorResponse(Error::Validation("ip", "must be an IPv4 or IPv6 address"), version);
        const bool failures = s.guard != nullptr && s.guard->Unblock(*ip);
        auto audit = AuditFor(caller, ctx, "address.unblock", "ip:" + *ip);
        audit.after = ToJson(boost::json::object{{"failure_block_lifted", failures}});
        auto write = [&](store::Callback<bool> done) {
            s.store.panel().UnblockAddress(*ip, std::move(audit), std::move(done));
        };
        auto removed = co_await http::AwaitCallback<bool>(std::move(write));
        if (!removed) co_return http::ErrorResponse(removed.error(), version);
        if (auto r = ReloadBlocks(s); !r) spdlog::warn("address blocks not reloaded: {}", r.error().message);
        co_return OkJson(
            boost::json::object{{"status", "success"},
                                {"lifted", boost::json::object{{"operator", *removed}, {"failures", failures}}}},
            version, std::nullopt);
    };
}

}  // namespace gpuopt::api

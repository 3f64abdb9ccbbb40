// The audit log, read by operators (api/admin.hpp):
//   GET /api/admin/audit?action=&actor=&target=&before=&limit=   newest first, paged back with `before`
//   GET /api/admin/audit/verify                                  walks the hash chain
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <charconv>

#include "api/admin.hpp"
#include "api/admin_internal.hpp"
#include "api/auth.hpp"
#include "http/error_response.hpp"
#include "http/query.hpp"

namespace gpuopt::api {

namespace {

boost::json::object EntryJson(const store::AuditEntry& e) {
    return boost::json::object{{"id", e.id},
                               {"at", FormatUtc(e.at)},
                               {"actor_type", e.actor_type},
                               {"actor", e.actor},
                               {"action", e.action},
                               {"target", e.target},
                               {"before", e.before},
                               {"after", e.after},
                               {"result", e.result},
                               {"ip", e.ip},
                               {"session_ref", e.session_ref},
                               {"row_hash", e.row_hash}};
}

}  // namespace

http::Handler MakeAdminAuditHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        auto query = http::ParseQuery(ctx.query);
        if (!query) co_return http::ErrorResponse(query.error(), version);
        store::AuditQuery q;
        for (const auto& [name, value] : *query) {
            if (value.size() > 200) co_return http::ErrorResponse(Error::Validation(name, "is too long"), version);
            if (name == "action") {
                q.action_prefix = value;
            } else if (name == "actor") {
                q.actor = value;
            } else if (name == "target") {
                q.target = value;
            } else if (name == "before" || name == "limit") {
                auto n = PositiveInt(value);
                if (!n) co_return http::ErrorResponse(Error::Validation(name, "must be a positive integer"), version);
                if (name == "before") {
                    q.before_id = *n;
                } else {
                    q.limit = std::min(static_cast<size_t>(*n), kMaxListLimit);
                }
            } else {
                co_return http::ErrorResponse(
                    Error::Validation(name, "is not a filter: use action, actor, target, before or limit"), version);
            }
        }
        const std::function<Result<std::vector<store::AuditEntry>>()> read = [&s, &q] {
            return s.store.admin().ListAudit(q);
        };
        auto entries = co_await OffloadRead<std::vector<store::AuditEntry>>(s, read);
        if (!entries) co_return http::ErrorResponse(entries.error(), version);
        boost::json::array out;
        for (const auto& e : *entries) out.push_back(EntryJson(e));
        boost::json::object body{{"status", "success"}, {"entries", std::move(out)}};
        if (entries->size() == q.limit && !entries->empty()) {
            body["next_before"] = entries->back().id;
        } else {
            body["next_before"] = nullptr;
        }
        co_return OkJson(body, version, std::nullopt);
    };
}

http::Handler MakeAdminAuditVerifyHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const std::function<Result<store::AuditVerification>()> verify = [&s] {
            return s.store.admin().VerifyAuditChain();
        };
        auto checked = co_await OffloadRead<store::AuditVerification>(s, verify);
        if (!checked) co_return http::ErrorResponse(checked.error(), version);
        boost::json::object body{{"status", "success"}, {"rows", checked->rows}, {"intact", !checked->first_broken_id}};
        if (checked->first_broken_id) {
            body["first_broken_id"] = *checked->first_broken_id;
        } else {
            body["first_broken_id"] = nullptr;
        }
        co_return OkJson(body, version, std::nullopt);
    };
}

}  // namespace gpuopt::api

// What the operator panel's handlers share (api/admin_internal.hpp): list queries, bodies, reasons, and
// the JSON of a customer, a payment and a mail.
#include <charconv>

#include "api/admin_internal.hpp"
#include "api/auth.hpp"
#include "common/json.hpp"
#include "http/error_response.hpp"
#include "http/query.hpp"

namespace gpuopt::api {

namespace {

constexpr size_t kMaxFilterBytes = 200;
constexpr size_t kMinReason = 3;
constexpr size_t kMaxReason = 500;

}  // namespace

std::optional<int64_t> PositiveInt(std::string_view text) {
    int64_t value = 0;
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || ptr != end || value <= 0) return std::nullopt;
    return value;
}

Result<ListQuery> ParseListQuery(std::string_view query, std::initializer_list<std::string_view> filters) {
    auto parsed = http::ParseQuery(query);
    if (!parsed) return parsed.error();
    ListQuery out;
    for (auto& [name, value] : *parsed) {
        if (value.size() > kMaxFilterBytes) return Error::Validation(name, "is too long");
        if (name == "before" || name == "limit") {
            auto n = PositiveInt(value);
            if (!n) return Error::Validation(name, "must be a positive integer");
            if (name == "before") {
                out.before = *n;
            } else {
                out.limit = std::min(static_cast<size_t>(*n), kMaxListLimit);
            }
            continue;
        }
        bool known = false;
        for (auto f : filters) known = known || f == name;
        if (!known) {
            std::string names;
            for (auto f : filters) names.append(f).append(", ");
            return Error::Validation(name, "is not a filter of this list: use " + names + "before or limit");
        }
        out.filters[name] = std::move(value);
    }
    return out;
}

Result<boost::json::object> JsonObjectBody(const http::Request& req) {
    if (req.body().empty()) return boost::json::object{};
    auto parsed = ParseJson(req.body());
    if (!parsed) return parsed.error();
    if (!parsed->is_object()) return Error::Validation("body", "must be a JSON object");
    return std::move(parsed->get_object());
}

boost::asio::awaitable<std::variant<OperatorAction, http::Response>> BeginOperatorAction(Services& s,
                                                                                         http::RequestContext& ctx,
                                                                                         std::string_view what) {
    const unsigned version = ctx.request.version();
    auto auth = co_await AuthorizeOperator(s, ctx);
    if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
    OperatorAction action{std::get<OperatorCaller>(auth), 0, {}};
    auto id = IdParam(ctx);
    if (!id) co_return http::ErrorResponse(Error::Validation("id", "must be " + std::string(what)), version);
    action.id = *id;
    auto body = JsonObjectBody(ctx.request);
    if (!body) co_return http::ErrorResponse(body.error(), version);
    action.body = std::move(*body);
    co_return action;
}

boost::asio::awaitable<std::optional<http::Response>> AppendAuditRow(Services& s, store::AuditEntry audit,
                                                                     unsigned version) {
    auto write = [&](store::Callback<store::AuditEntry> done) {
        s.store.admin().AppendAudit(std::move(audit), std::move(done));
    };
    auto logged = co_await http::AwaitCallback<store::AuditEntry>(std::move(write));
    if (!logged) co_return http::ErrorResponse(logged.error(), version);
    co_return std::nullopt;
}

Result<std::string> ReasonField(const boost::json::object& body) {
    const auto* v = body.if_contains("reason");
    if (v == nullptr || !v->is_string()) {
        return Error::Validation("reason", "is required: say why, for the audit log");
    }
    std::string_view text = v->get_string();
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    if (text.size() < kMinReason || text.size() > kMaxReason) {
        return Error::Validation("reason", "must be 3 to 500 characters");
    }
    for (char c : text) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            return Error::Validation("reason", "must not contain control characters");
        }
    }
    return std::string(text);
}

boost::json::value TimeOrNull(const std::optional<SysSeconds>& t) {
    if (!t) return nullptr;
    return boost::json::value(FormatUtc(*t));
}

boost::json::object CustomerJson(const store::CustomerRow& c) {
    boost::json::object o{{"id", c.id},
                          {"email", c.email},
                          {"plan", NameOf(c.tier)},
                          {"created_at", FormatUtc(c.created_at)},
                          {"disabled", c.disabled_at.has_value()},
                          {"disabled_at", TimeOrNull(c.disabled_at)},
                          {"disabled_reason", c.disabled_reason},
                          {"gpus", c.gpus},
                          {"last_report_at", TimeOrNull(c.last_report_at)}};
    if (c.subscription) {
        o["subscription"] =
            boost::json::object{{"status", store::NameOf(*c.subscription)}, {"period_end", TimeOrNull(c.period_end)}};
    } else {
        o["subscription"] = nullptr;
    }
    return o;
}

boost::json::object PaymentJson(const store::PaymentRow& row) {
    const store::Payment& p = row.payment;
    boost::json::object o{{"id", p.id},
                          {"reference", p.reference},
                          {"account_id", p.account_id},
                          {"email", row.email},
                          {"gateway", p.gateway},
                          {"plan", NameOf(p.tier)},
                          {"amount", p.amount},
                          {"currency", p.currency},
                          {"purpose", p.purpose},
                          {"status", store::NameOf(p.status)},
                          {"refunded", row.refunded},
                          {"gateway_id", p.gateway_id},
                          {"paid_currency", p.paid_currency},
                          {"created_at", FormatUtc(p.created_at)},
                          {"updated_at", FormatUtc(p.updated_at)},
                          {"completed_at", TimeOrNull(p.completed_at)},
                          {"expires_at", TimeOrNull(p.expires_at)},
                          {"note", p.note}};
    if (p.paid_amount) {
        o["paid_amount"] = *p.paid_amount;
    } else {
        o["paid_amount"] = nullptr;
    }
    return o;
}

boost::json::object MailJson(const store::MailRow& m) {
    return boost::json::object{{"id", m.id},
                               {"account_id", m.account_id},
                               {"to", m.to},
                               {"subject", m.subject},
                               {"kind", m.kind},
                               {"status", store::NameOf(m.status)},
                               {"attempts", m.attempts},
                               {"next_attempt", FormatUtc(m.next_attempt)},
                               {"last_error", m.last_error},
                               {"created_at", FormatUtc(m.created_at)},
                               {"sent_at", TimeOrNull(m.sent_at)}};
}

}  // namespace gpuopt::api

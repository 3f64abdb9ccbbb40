// The operator's CSV exports (api/admin.hpp), RFC 4180 with text cells guarded against formula injection
// (common/csv.hpp):
//   GET /api/admin/export/customers.csv   every customer: id, email, plan, created, disabled, subscription
//   GET /api/admin/export/payments.csv    every payment
//   GET /api/admin/export/ledger.csv      the revenue ledger
// Each export is an audit row: it carries customers' personal data out of the product.
#include <spdlog/spdlog.h>

#include "api/admin.hpp"
#include "api/admin_internal.hpp"
#include "api/auth.hpp"
#include "common/csv.hpp"
#include "http/await.hpp"
#include "http/error_response.hpp"

namespace gpuopt::api {

namespace {

constexpr size_t kPage = 500;

std::string OptTime(const std::optional<SysSeconds>& t) { return t ? FormatUtc(*t) : std::string(); }

Result<std::string> CustomersCsv(store::PanelRepository& panel, int64_t& rows) {
    std::string out;
    csv::AppendRow(out, {"id", "email", "plan", "created_at", "disabled_at", "disabled_reason", "subscription",
                         "period_end", "gpus", "last_report_at"});
    store::CustomerQuery q;
    q.limit = kPage;
    for (;;) {
        auto page = panel.ListCustomers(q);
        if (!page) return page.error();
        for (const auto& c : *page) {
            csv::AppendRow(out, {csv::Number(static_cast<long long>(c.id)), csv::Text(c.email),
                                 csv::Text(NameOf(c.tier)), csv::Text(FormatUtc(c.created_at)),
                                 csv::Text(OptTime(c.disabled_at)), csv::Text(c.disabled_reason),
                                 csv::Text(c.subscription ? store::NameOf(*c.subscription) : std::string_view()),
                                 csv::Text(OptTime(c.period_end)), csv::Number(static_cast<long long>(c.gpus)),
                                 csv::Text(OptTime(c.last_report_at))});
            ++rows;
        }
        if (page->size() < kPage) return out;
        q.before_id = page->back().id;
    }
}

Result<std::string> PaymentsCsv(store::PanelRepository& panel, int64_t& rows) {
    std::string out;
    csv::AppendRow(
        out, {"id", "reference", "account_id", "email", "gateway", "plan", "amount", "currency", "purpose", "status",
              "refunded", "gateway_id", "paid_amount", "paid_currency", "created_at", "completed_at", "note"});
    store::PaymentQuery q;
    q.limit = kPage;
    for (;;) {
        auto page = panel.ListAllPayments(q);
        if (!page) return page.error();
        for (const auto& row : *page) {
            const auto& p = row.payment;
            csv::AppendRow(
                out,
                {csv::Number(static_cast<long long>(p.id)), csv::Text(p.reference),
                 csv::Number(static_cast<long long>(p.account_id)), csv::Text(row.email), csv::Text(p.gateway),
                 csv::Text(NameOf(p.tier)), csv::Number(p.amount), csv::Text(p.currency), csv::Text(p.purpose),
                 csv::Text(store::NameOf(p.status)), csv::Text(row.refunded ? "yes" : "no"), csv::Text(p.gateway_id),
                 p.paid_amount ? csv::Number(*p.paid_amount) : std::string(), csv::Text(p.paid_currency),
                 csv::Text(FormatUtc(p.created_at)), csv::Text(OptTime(p.completed_at)), csv::Text(p.note)});
            ++rows;
        }
        if (page->size() < kPage) return out;
        q.before_id = page->back().payment.id;
    }
}

Result<std::string> LedgerCsv(store::PanelRepository& panel, int64_t& rows) {
    std::string out;
    csv::AppendRow(out,
                   {"id", "at", "account_id", "kind", "plan", "amount", "currency", "payment_id", "gateway", "detail"});
    int64_t after = 0;
    for (;;) {
        auto page = panel.ListLedger(after, kPage);
        if (!page) return page.error();
        for (const auto& row : *page) {
            const auto& e = row.event;
            csv::AppendRow(out, {csv::Number(static_cast<long long>(e.id)), csv::Text(FormatUtc(e.at)),
                                 csv::Number(static_cast<long long>(e.account_id)), csv::Text(e.kind),
                                 csv::Text(NameOf(e.tier)), csv::Number(e.amount), csv::Text(e.currency),
                                 e.payment_id ? csv::Number(static_cast<long long>(*e.payment_id)) : std::string(),
                                 csv::Text(row.gateway), csv::Text(e.detail)});
            ++rows;
            after = e.id;
        }
        if (page->size() < kPage) return out;
    }
}

}  // namespace

http::Handler MakeAdminExportHandler(Services& s, std::string what) {
    return [&s, what = std::move(what)](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const auto& caller = std::get<OperatorCaller>(auth);
        int64_t rows = 0;
        const std::function<Result<std::string>()> read = [&s, &what, &rows]() -> Result<std::string> {
            if (what == "customers") return CustomersCsv(s.store.panel(), rows);
            if (what == "payments") return PaymentsCsv(s.store.panel(), rows);
            return LedgerCsv(s.store.panel(), rows);
        };
        auto text = co_await OffloadRead<std::string>(s, read);
        if (!text) co_return http::ErrorResponse(text.error(), version);
        auto audit = AuditFor(caller, ctx, "export." + what, "");
        audit.after = "{\"rows\":" + std::to_string(rows) + "}";
        // No export leaves without its audit row.
        if (auto refused = co_await AppendAuditRow(s, std::move(audit), version)) co_return std::move(*refused);
        http::Response res{http::bhttp::status::ok, version};
        res.set(http::bhttp::field::content_type, "text/csv; charset=utf-8; header=present");
        res.set(http::bhttp::field::content_disposition,
                "attachment; filename=\"gpuoptimizer-" + what + "-" + FormatUtc(UtcNow()).substr(0, 10) + ".csv\"");
        res.set(http::bhttp::field::cache_control, "no-store");
        res.body() = std::move(*text);
        co_return res;
    };
}

}  // namespace gpuopt::api

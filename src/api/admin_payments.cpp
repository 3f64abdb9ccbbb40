// The operator's payments and mail (api/admin.hpp):
//   GET  /api/admin/payments?status=&gateway=&customer=&before=&limit=   newest first
//   POST /api/admin/payments/{id}/verify                   asks the gateway now and applies its answer
//   POST /api/admin/payments/{id}/refund {reason}          a refund made at the gateway, recorded
//   GET  /api/admin/gateway-events?state=&gateway=&reference=&before=&limit=
//   GET  /api/admin/mail?status=&kind=&customer=&before=&limit=
//   POST /api/admin/mail/{id}/retry                        a failed mail sent again
//   POST /api/admin/mail/{id}/cancel                       a waiting mail not sent
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "api/admin.hpp"
#include "api/admin_internal.hpp"
#include "api/auth.hpp"
#include "billing/billing.hpp"
#include "common/json.hpp"
#include "http/await.hpp"
#include "http/error_response.hpp"

namespace gpuopt::api {

namespace {

// A filter naming a customer by id ("" for all).
Result<std::optional<int64_t>> CustomerFilter(const std::string& value) {
    if (value.empty()) return std::optional<int64_t>();
    auto id = PositiveInt(value);
    if (!id) return Error::Validation("customer", "must be a customer id");
    return std::optional<int64_t>(*id);
}

boost::asio::awaitable<Result<store::PaymentRow>> ReadPayment(Services& s, int64_t id) {
    const std::function<Result<store::PaymentRow>()> read = [&s, id]() -> Result<store::PaymentRow> {
        auto found = s.store.panel().GetPaymentRow(id);
        if (!found) return found.error();
        if (!*found) return Error{ErrorCode::kNotFound, "No payment with that id", {}};
        return std::move(**found);
    };
    co_return co_await OffloadRead<store::PaymentRow>(s, read);
}

boost::json::object PaymentState(const store::PaymentRow& p) {
    return boost::json::object{{"status", store::NameOf(p.payment.status)}, {"refunded", p.refunded}};
}

}  // namespace

http::Handler MakeAdminPaymentsHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        auto list = ParseListQuery(ctx.query, {"status", "gateway", "customer"});
        if (!list) co_return http::ErrorResponse(list.error(), version);
        store::PaymentQuery q;
        if (const auto& status = list->filters["status"]; !status.empty()) {
            q.status = store::PaymentStatusNamed(status);
            if (!q.status) {
                co_return http::ErrorResponse(
                    Error::Validation("status",
                                      "must be pending, completed, failed, expired, paid_unapplied or refunded"),
                    version);
            }
        }
        q.gateway = list->filters["gateway"];
        auto customer = CustomerFilter(list->filters["customer"]);
        if (!customer) co_return http::ErrorResponse(customer.error(), version);
        q.account_id = *customer;
        q.before_id = list->before;
        q.limit = list->limit;
        const std::function<Result<std::vector<store::PaymentRow>>()> read = [&s, &q] {
            return s.store.panel().ListAllPayments(q);
        };
        auto rows = co_await OffloadRead<std::vector<store::PaymentRow>>(s, read);
        if (!rows) co_return http::ErrorResponse(rows.error(), version);
        co_return OkJson(
            PageJson("payments", *rows, q.limit, PaymentJson, [](const store::PaymentRow& p) { return p.payment.id; }),
            version, std::nullopt);
    };
}

http::Handler MakeAdminVerifyPaymentHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const auto& caller = std::get<OperatorCaller>(auth);
        auto id = IdParam(ctx);
        if (!id) co_return http::ErrorResponse(Error::Validation("id", "must be a payment id"), version);
        auto before = co_await ReadPayment(s, *id);
        if (!before) co_return http::ErrorResponse(before.error(), version);
        if (s.billing == nullptr) {
            co_return http::ErrorResponse({ErrorCode::kUnavailable, "Billing is not running on this server", {}},
                                          version);
        }
        const store::Payment payment = before->payment;
        const std::function<Result<billing::VerifyOutcome>()> ask = [&s, &payment] {
            return s.billing->VerifyNow(payment, UtcNow());
        };
        auto outcome = co_await Offload<billing::VerifyOutcome>(s, ask);
        if (!outcome) co_return http::ErrorResponse(outcome.error(), version);
        auto after = co_await ReadPayment(s, *id);
        if (!after) co_return http::ErrorResponse(after.error(), version);
        // The change itself was written by billing, as any gateway answer is; this row says who asked.
        auto audit = AuditFor(caller, ctx, "payment.verify", "payment:" + std::to_string(*id));
        audit.before = ToJson(PaymentState(*before));
        auto state = PaymentState(*after);
        state["verdict"] = outcome->verdict;
        state["note"] = outcome->note;
        audit.after = ToJson(state);
        if (auto refused = co_await AppendAuditRow(s, std::move(audit), version)) co_return std::move(*refused);
        if (outcome->verdict == "applied" && s.wake_billing) s.wake_billing();  // mails it queued go out soon
        co_return OkJson(boost::json::object{{"status", "success"},
                                             {"verdict", outcome->verdict},
                                             {"note", outcome->note},
                                             {"payment", PaymentJson(*after)}},
                         version, std::nullopt);
    };
}

http::Handler MakeAdminRefundPaymentHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const auto& caller = std::get<OperatorCaller>(auth);
        auto id = IdParam(ctx);
        if (!id) co_return http::ErrorResponse(Error::Validation("id", "must be a payment id"), version);
        auto body = JsonObjectBody(ctx.request);
        if (!body) co_return http::ErrorResponse(body.error(), version);
        auto reason = ReasonField(*body);
        if (!reason) co_return http::ErrorResponse(reason.error(), version);
        auto before = co_await ReadPayment(s, *id);
        if (!before) co_return http::ErrorResponse(before.error(), version);
        auto audit = AuditFor(caller, ctx, "payment.refund", "payment:" + std::to_string(*id));
        audit.before = ToJson(PaymentState(*before));
        audit.after = ToJson(boost::json::object{{"refunded", true}, {"reason", *reason}});
        auto write = [&](store::Callback<store::PaymentRow> done) {
            s.store.panel().RecordOperatorRefund(*id, UtcNow(), std::move(audit), std::move(done));
        };
        auto after = co_await http::AwaitCallback<store::PaymentRow>(std::move(write));
        if (!after) co_return http::ErrorResponse(after.error(), version);
        co_return OkJson(boost::json::object{{"status", "success"}, {"payment", PaymentJson(*after)}}, version,
                         std::nullopt);
    };
}

http::Handler MakeAdminGatewayEventsHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        auto list = ParseListQuery(ctx.query, {"state", "gateway", "reference"});
        if (!list) co_return http::ErrorResponse(list.error(), version);
        store::GatewayEventQuery q;
        if (const auto& state = list->filters["state"]; !state.empty()) {
            q.state = store::GatewayEventStateNamed(state);
            if (!q.state) {
                co_return http::ErrorResponse(Error::Validation("state", "must be pending, applied, ignored or failed"),
                                              version);
            }
        }
        q.gateway = list->filters["gateway"];
        q.reference = list->filters["reference"];
        q.before_id = list->before;
        q.limit = list->limit;
        const std::function<Result<std::vector<store::GatewayEvent>>()> read = [&s, &q] {
            return s.store.panel().ListGatewayEvents(q);
        };
        auto rows = co_await OffloadRead<std::vector<store::GatewayEvent>>(s, read);
        if (!rows) co_return http::ErrorResponse(rows.error(), version);
        auto to_json = [](const store::GatewayEvent& e) {
            return boost::json::object{{"id", e.id},
                                       {"gateway", e.gateway},
                                       {"dedup_key", e.dedup_key},
                                       {"reference", e.reference},
                                       {"received_at", FormatUtc(e.received_at)},
                                       {"state", store::NameOf(e.state)},
                                       {"attempts", e.attempts},
                                       {"next_attempt", TimeOrNull(e.next_attempt)},
                                       {"result", e.result},
                                       {"body", e.body}};
        };
        co_return OkJson(PageJson("events", *rows, q.limit, to_json, [](const store::GatewayEvent& e) { return e.id; }),
                         version, std::nullopt);
    };
}

http::Handler MakeAdminMailHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        auto list = ParseListQuery(ctx.query, {"status", "kind", "customer"});
        if (!list) co_return http::ErrorResponse(list.error(), version);
        store::MailQuery q;
        if (const auto& status = list->filters["status"]; !status.empty()) {
            q.status = store::MailStatusNamed(status);
            if (!q.status) {
                co_return http::ErrorResponse(Error::Validation("status", "must be pending, sent or failed"), version);
            }
        }
        q.kind = list->filters["kind"];
        auto customer = CustomerFilter(list->filters["customer"]);
        if (!customer) co_return http::ErrorResponse(customer.error(), version);
        q.account_id = *customer;
        q.before_id = list->before;
        q.limit = list->limit;
        const std::function<Result<std::vector<store::MailRow>>()> read = [&s, &q] {
            return s.store.panel().ListMail(q);
        };
        auto rows = co_await OffloadRead<std::vector<store::MailRow>>(s, read);
        if (!rows) co_return http::ErrorResponse(rows.error(), version);
        co_return OkJson(PageJson("mails", *rows, q.limit, MailJson, [](const store::MailRow& m) { return m.id; }),
                         version, std::nullopt);
    };
}

http::Handler MakeAdminMailActionHandler(Services& s, bool retry) {
    return [&s, retry](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const auto& caller = std::get<OperatorCaller>(auth);
        auto id = IdParam(ctx);
        if (!id) co_return http::ErrorResponse(Error::Validation("id", "must be a mail id"), version);
        auto audit = AuditFor(caller, ctx, retry ? "mail.retry" : "mail.cancel", "mail:" + std::to_string(*id));
        audit.after = ToJson(boost::json::object{{"status", retry ? "pending" : "failed"}});
        const SysSeconds now = UtcNow();
        auto write = [&](store::Callback<store::MailRow> done) {
            if (retry) {
                s.store.panel().RetryMail(*id, now, std::move(audit), std::move(done));
            } else {
                s.store.panel().CancelMail(*id, "cancelled by " + caller.actor, std::move(audit), std::move(done));
            }
        };
        auto mail = co_await http::AwaitCallback<store::MailRow>(std::move(write));
        if (!mail) co_return http::ErrorResponse(mail.error(), version);
        if (retry) {
            // The mail job sends it now, on whichever server holds its lease.
            if (s.wake_job) s.wake_job("mail");
            s.store.Announce("mail");
        }
        co_return OkJson(boost::json::object{{"status", "success"}, {"mail", MailJson(*mail)}}, version, std::nullopt);
    };
}

}  // namespace gpuopt::api

// The operator's customers (api/admin.hpp):
//   GET    /api/admin/customers?q=&plan=&before=&limit=    newest first; q: a part of the address
//   GET    /api/admin/customers/{id}                       plan, period, GPUs, payments, ledger, mails, alerts
//   POST   /api/admin/customers/{id}/plan {plan, reason, period_end?}   with a ledger row
//   POST   /api/admin/customers/{id}/extend {days, reason}              the paid period, longer
//   POST   /api/admin/customers/{id}/welcome                            the welcome mail again
//   POST   /api/admin/customers/{id}/disable {reason}, .../enable {reason}
//   DELETE /api/admin/customers/{id} {confirm_email, reason}            as the customer's own deletion
// Every change is audited in the transaction that makes it, with the fields before and after.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <spdlog/spdlog.h>

#include "api/admin.hpp"
#include "api/admin_internal.hpp"
#include "api/auth.hpp"
#include "common/email.hpp"
#include "common/json.hpp"
#include "http/await.hpp"
#include "http/error_response.hpp"
#include "mail/templates.hpp"

namespace gpuopt::api {

namespace {

constexpr size_t kDetailRows = 50;
constexpr int64_t kMaxExtendDays = 366;

std::string Target(int64_t id) { return "customer:" + std::to_string(id); }

boost::json::object PlanFields(const store::CustomerRow& c) {
    return boost::json::object{{"plan", NameOf(c.tier)}, {"period_end", TimeOrNull(c.period_end)}};
}

// The customer `{id}` names, read for an action: kNotFound for an unknown or deleted one.
boost::asio::awaitable<Result<store::CustomerRow>> ReadCustomer(Services& s, int64_t id) {
    const std::function<Result<store::CustomerRow>()> read = [&s, id]() -> Result<store::CustomerRow> {
        auto found = s.store.panel().GetCustomer(id);
        if (!found) return found.error();
        if (!*found) return Error{ErrorCode::kNotFound, "No customer with that id", {}};
        return std::move(**found);
    };
    co_return co_await OffloadRead<store::CustomerRow>(s, read);
}

using Action = OperatorAction;

boost::asio::awaitable<std::variant<Action, http::Response>> BeginAction(Services& s, http::RequestContext& ctx) {
    co_return co_await BeginOperatorAction(s, ctx, "a customer id");
}

boost::asio::awaitable<http::Response> Changed(http::RequestContext& ctx,
                                               std::function<void(store::Callback<store::CustomerRow>)> write) {
    auto changed = co_await http::AwaitCallback<store::CustomerRow>(std::move(write));
    if (!changed) co_return http::ErrorResponse(changed.error(), ctx.request.version());
    co_return OkJson(boost::json::object{{"status", "success"}, {"customer", CustomerJson(*changed)}},
                     ctx.request.version(), std::nullopt);
}

}  // namespace

http::Handler MakeAdminCustomersHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        auto list = ParseListQuery(ctx.query, {"q", "plan"});
        if (!list) co_return http::ErrorResponse(list.error(), version);
        store::CustomerQuery q;
        q.email_contains = NormalizeEmail(list->filters["q"]);
        if (const auto& plan = list->filters["plan"]; !plan.empty()) {
            q.tier = TierNamed(plan);
            if (!q.tier) {
                co_return http::ErrorResponse(Error::Validation("plan", "must be free, professional or enterprise"),
                                              version);
            }
        }
        q.before_id = list->before;
        q.limit = list->limit;
        const std::function<Result<std::vector<store::CustomerRow>>()> read = [&s, &q] {
            return s.store.panel().ListCustomers(q);
        };
        auto rows = co_await OffloadRead<std::vector<store::CustomerRow>>(s, read);
        if (!rows) co_return http::ErrorResponse(rows.error(), version);
        co_return OkJson(
            PageJson("customers", *rows, q.limit, CustomerJson, [](const store::CustomerRow& c) { return c.id; }),
            version, std::nullopt);
    };
}

http::Handler MakeAdminCustomerHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeOperator(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        auto id = IdParam(ctx);
        if (!id) co_return http::ErrorResponse(Error::Validation("id", "must be a customer id"), version);
        const std::function<Result<boost::json::object>()> read = [&s, id = *id]() -> Result<boost::json::object> {
            auto& panel = s.store.panel();
            auto found = panel.GetCustomer(id);
            if (!found) return found.error();
            if (!*found) return Error{ErrorCode::kNotFound, "No customer with that id", {}};
            boost::json::object body{{"status", "success"}, {"customer", CustomerJson(**found)}};
            auto sub = s.store.billing().GetSubscription(id);
            if (!sub) return sub.error();
            if (*sub) {
                body["subscription"] = boost::json::object{{"plan", NameOf((*sub)->tier)},
                                                           {"status", store::NameOf((*sub)->status)},
                                                           {"period_start", FormatUtc((*sub)->period_start)},
                                                           {"period_end", FormatUtc((*sub)->period_end)},
                                                           {"gateway", (*sub)->gateway}};
            } else {
                body["subscription"] = nullptr;
            }
            auto fleet = s.store.usage().ReadFleet(id, SysSeconds{});
            if (!fleet) return fleet.error();
            boost::json::array gpus;
            for (const auto& g : *fleet) {
                gpus.push_back(boost::json::object{{"gpu_key", g.gpu_key},
                                                   {"first_seen", FormatUtc(g.first_seen)},
                                                   {"last_seen", FormatUtc(g.last_seen)}});
            }
            body["gpus"] = std::move(gpus);
            store::PaymentQuery pq;
            pq.account_id = id;
            pq.limit = kDetailRows;
            auto payments = panel.ListAllPayments(pq);
            if (!payments) return payments.error();
            boost::json::array pays;
            for (const auto& p : *payments) pays.push_back(PaymentJson(p));
            body["payments"] = std::move(pays);
            auto ledger = s.store.billing().ListRevenueEvents(id, kDetailRows);
            if (!ledger) return ledger.error();
            boost::json::array rows;
            for (const auto& e : *ledger) {
                rows.push_back(boost::json::object{{"id", e.id},
                                                   {"kind", e.kind},
                                                   {"plan", NameOf(e.tier)},
                                                   {"amount", e.amount},
                                                   {"currency", e.currency},
                                                   {"at", FormatUtc(e.at)},
                                                   {"detail", e.detail}});
            }
            body["ledger"] = std::move(rows);
            store::MailQuery mq;
            mq.account_id = id;
            mq.limit = kDetailRows;
            auto mails = panel.ListMail(mq);
            if (!mails) return mails.error();
            boost::json::array sent;
            for (const auto& m : *mails) sent.push_back(MailJson(m));
            body["mails"] = std::move(sent);
            auto alerts = s.store.alerts().ListAlerts(id, kDetailRows);
            if (!alerts) return alerts.error();
            boost::json::array raised;
            for (const auto& a : *alerts) {
                raised.push_back(boost::json::object{{"id", a.id},
                                                     {"gpu_key", a.gpu_key},
                                                     {"opened_at", FormatUtc(a.opened_at)},
                                                     {"closed_at", TimeOrNull(a.closed_at)},
                                                     {"message", a.message},
                                                     {"delivery", store::NameOf(a.delivery)}});
            }
            body["alerts"] = std::move(raised);
            return body;
        };
        auto body = co_await OffloadRead<boost::json::object>(s, read);
        if (!body) co_return http::ErrorResponse(body.error(), version);
        co_return OkJson(*body, version, std::nullopt);
    };
}

http::Handler MakeAdminCustomerPlanHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto begun = co_await BeginAction(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&begun)) co_return std::move(*refused);
        auto& action = std::get<Action>(begun);
        auto reason = ReasonField(action.body);
        if (!reason) co_return http::ErrorResponse(reason.error(), version);
        const auto* plan = action.body.if_contains("plan");
        auto tier = plan != nullptr && plan->is_string() ? TierNamed(plan->get_string()) : std::nullopt;
        if (!tier) {
            co_return http::ErrorResponse(Error::Validation("plan", "must be free, professional or enterprise"),
                                          version);
        }
        const SysSeconds now = UtcNow();
        store::CustomerPlanChange change{action.id, *tier, std::nullopt, *reason, now};
        if (const auto* end = action.body.if_contains("period_end"); end != nullptr && !end->is_null()) {
            auto at = end->is_string() ? ParseUtc(end->get_string()) : std::nullopt;
            if (!at || *at <= now) {
                co_return http::ErrorResponse(
                    Error::Validation("period_end", "must be a future time, as 2027-01-31T00:00:00Z"), version);
            }
            if (*tier == Tier::kFree) {
                co_return http::ErrorResponse(Error::Validation("period_end", "has no meaning on the free plan"),
                                              version);
            }
            change.period_end = *at;
        } else if (*tier != Tier::kFree) {
            change.period_end = AddMonths(now, 1);
        }
        auto before = co_await ReadCustomer(s, action.id);
        if (!before) co_return http::ErrorResponse(before.error(), version);
        auto audit = AuditFor(action.caller, ctx, "customer.plan.change", Target(action.id));
        audit.before = ToJson(PlanFields(*before));
        boost::json::object after{
            {"plan", NameOf(*tier)}, {"period_end", TimeOrNull(change.period_end)}, {"reason", *reason}};
        audit.after = ToJson(after);
        co_return co_await Changed(ctx, [&](store::Callback<store::CustomerRow> done) {
            s.store.panel().ChangeCustomerPlan(std::move(change), std::move(audit), std::move(done));
        });
    };
}

http::Handler MakeAdminCustomerExtendHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto begun = co_await BeginAction(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&begun)) co_return std::move(*refused);
        auto& action = std::get<Action>(begun);
        auto reason = ReasonField(action.body);
        if (!reason) co_return http::ErrorResponse(reason.error(), version);
        const auto* days = action.body.if_contains("days");
        if (days == nullptr || !days->is_int64() || days->get_int64() < 1 || days->get_int64() > kMaxExtendDays) {
            co_return http::ErrorResponse(Error::Validation("days", "must be a whole number from 1 to 366"), version);
        }
        auto before = co_await ReadCustomer(s, action.id);
        if (!before) co_return http::ErrorResponse(before.error(), version);
        if (before->tier == Tier::kFree) {
            co_return http::ErrorResponse(
                {ErrorCode::kConflict, "The customer is on the free plan: change the plan instead", {}}, version);
        }
        const SysSeconds now = UtcNow();
        // From the period's end, or from now once it has passed (a customer in grace).
        const SysSeconds from = before->period_end && *before->period_end > now ? *before->period_end : now;
        store::CustomerPlanChange change{action.id, before->tier, from + std::chrono::days(days->get_int64()), *reason,
                                         now};
        auto audit = AuditFor(action.caller, ctx, "customer.period.extend", Target(action.id));
        audit.before = ToJson(PlanFields(*before));
        audit.after = ToJson(boost::json::object{{"plan", NameOf(before->tier)},
                                                 {"period_end", TimeOrNull(change.period_end)},
                                                 {"days", days->get_int64()},
                                                 {"reason", *reason}});
        co_return co_await Changed(ctx, [&](store::Callback<store::CustomerRow> done) {
            s.store.panel().ChangeCustomerPlan(std::move(change), std::move(audit), std::move(done));
        });
    };
}

http::Handler MakeAdminCustomerDisableHandler(Services& s, bool disable) {
    return [&s, disable](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto begun = co_await BeginAction(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&begun)) co_return std::move(*refused);
        auto& action = std::get<Action>(begun);
        auto reason = ReasonField(action.body);
        if (!reason) co_return http::ErrorResponse(reason.error(), version);
        auto audit = AuditFor(action.caller, ctx, disable ? "customer.disable" : "customer.enable", Target(action.id));
        audit.before = ToJson(boost::json::object{{"disabled", !disable}});
        audit.after = ToJson(boost::json::object{{"disabled", disable}, {"reason", *reason}});
        co_return co_await Changed(ctx, [&](store::Callback<store::CustomerRow> done) {
            s.store.panel().SetCustomerDisabled(action.id, disable, *reason, UtcNow(), std::move(audit),
                                                std::move(done));
        });
    };
}

http::Handler MakeAdminCustomerWelcomeHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto begun = co_await BeginAction(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&begun)) co_return std::move(*refused);
        auto& action = std::get<Action>(begun);
        auto customer = co_await ReadCustomer(s, action.id);
        if (!customer) co_return http::ErrorResponse(customer.error(), version);
        const SysSeconds now = UtcNow();
        auto key = s.store.accounts().GetAccount(action.id);
        if (!key) co_return http::ErrorResponse(key.error(), version);
        auto mail = mail::Welcome(mail::Brand{"GPUOptimizer", s.config.base_url}, *key);
        // Once a second at most: a double click sends one mail.
        mail.dedup_key = "welcome:" + customer->email + ":again:" + FormatUtc(now);
        auto audit = AuditFor(action.caller, ctx, "customer.welcome.resend", Target(action.id));
        auto write = [&](store::Callback<bool> done) {
            s.store.panel().EnqueueOperatorMail(std::move(mail), now, std::move(audit), std::move(done));
        };
        auto queued = co_await http::AwaitCallback<bool>(std::move(write));
        if (!queued) co_return http::ErrorResponse(queued.error(), version);
        co_return OkJson(boost::json::object{{"status", "success"}, {"queued", *queued}}, version, std::nullopt);
    };
}

http::Handler MakeAdminCustomerDeleteHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto begun = co_await BeginAction(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&begun)) co_return std::move(*refused);
        auto& action = std::get<Action>(begun);
        auto reason = ReasonField(action.body);
        if (!reason) co_return http::ErrorResponse(reason.error(), version);
        auto customer = co_await ReadCustomer(s, action.id);
        if (!customer) co_return http::ErrorResponse(customer.error(), version);
        // Typing the address is the confirmation: a stray request deletes nothing.
        const auto* confirm = action.body.if_contains("confirm_email");
        if (confirm == nullptr || !confirm->is_string() ||
            NormalizeEmail(std::string_view(confirm->get_string())) != customer->email) {
            co_return http::ErrorResponse(
                Error::Validation("confirm_email", "must be the customer's email address, to confirm the deletion"),
                version);
        }
        const SysSeconds now = UtcNow();
        store::AccountDeletion deletion;
        deletion.account_id = action.id;
        deletion.now = now;
        deletion.farewell = mail::AccountDeleted(mail::Brand{"GPUOptimizer", s.config.base_url}, action.id,
                                                 customer->email, customer->tier, now);
        deletion.audit = AuditFor(action.caller, ctx, "customer.delete", Target(action.id));
        // The address is what is being deleted: the audit row keeps the plan and the reason only.
        deletion.audit->before = ToJson(PlanFields(*customer));
        deletion.audit->after = ToJson(boost::json::object{{"deleted", true}, {"reason", *reason}});
        auto write = [&](store::Callback<store::DeletedAccount> done) {
            s.store.accounts().DeleteAccount(std::move(deletion), std::move(done));
        };
        auto deleted = co_await http::AwaitCallback<store::DeletedAccount>(std::move(write));
        if (!deleted) co_return http::ErrorResponse(deleted.error(), version);
        spdlog::info("customer {} deleted by operator {}: {} rows removed", action.id, action.caller.actor,
                     deleted->rows_removed);
        co_return OkJson(boost::json::object{{"status", "success"},
                                             {"deleted", boost::json::object{{"email", deleted->email},
                                                                             {"plan", NameOf(deleted->tier)},
                                                                             {"rows_removed", deleted->rows_removed}}}},
                         version, std::nullopt);
    };
}

}  // namespace gpuopt::api

#include "api/api.hpp"

#include "api/admin.hpp"

namespace gpuopt::api {

void RegisterRoutes(http::Router& router, Services& s) {
    using http::bhttp::verb;
    // method  path                 handler                    options
    router.Add(verb::post, "/api/signup", MakeSignupHandler(s), {true, "Create an account and its API key"});
    router.Add(verb::post, "/api/track-usage", MakeTrackUsageHandler(s), {true, "Store an agent report"});
    router.Add(verb::get, "/api/health", MakeHealthHandler(s), {false, "Liveness and store health", true});
    router.Add(verb::post, "/api/login", MakeLoginHandler(s), {true, "Mail a one-time sign-in link"});
    router.Add(verb::get, "/login/link", MakeSignInLinkPageHandler(s), {false, "The page a sign-in link opens"});
    router.Add(verb::post, "/api/login/link", MakeRedeemSignInLinkHandler(s),
               {false, "Use a sign-in link once and start a session"});
    router.Add(verb::post, "/api/login/key", MakeKeySignInHandler(s), {true, "Start a session with an API key"});
    router.Add(verb::get, "/api/session", MakeSessionHandler(s), {false, "The session's account and CSRF token"});
    router.Add(verb::post, "/api/logout", MakeLogoutHandler(s), {false, "End this session"});
    router.Add(verb::post, "/api/logout-all", MakeLogoutAllHandler(s), {false, "End every session of the account"});
    // The operator's API (api/admin.hpp): an admin session, or the read-only ADMIN_TOKEN.
    router.Add(verb::post, "/api/admin/login", MakeAdminLoginHandler(s), {true, "Start an operator session"});
    router.Add(verb::get, "/api/admin/session", MakeAdminSessionHandler(s),
               {false, "The operator session's account and CSRF token"});
    router.Add(verb::post, "/api/admin/logout", MakeAdminLogoutHandler(s), {false, "End the operator session"});
    router.Add(verb::get, "/api/admin/totp/new", MakeAdminTotpBeginHandler(s),
               {false, "A fresh TOTP secret to enrol (nothing stored)"});
    router.Add(verb::put, "/api/admin/totp", MakeAdminTotpConfirmHandler(s),
               {true, "Turn the operator's second factor on"});
    router.Add(verb::delete_, "/api/admin/totp", MakeAdminTotpConfirmHandler(s),
               {true, "Turn the operator's second factor off"});
    router.Add(verb::get, "/api/admin/audit", MakeAdminAuditHandler(s), {false, "The audit log, newest first"});
    router.Add(verb::get, "/api/admin/audit/verify", MakeAdminAuditVerifyHandler(s),
               {false, "Check the audit log's hash chain"});
    router.Add(verb::get, "/api/admin/revenue", MakeAdminRevenueHandler(s),
               {false, "MRR, new, expansion, churn and conversion by month"});
    router.Add(verb::get, "/api/admin/customers", MakeAdminCustomersHandler(s), {false, "Customers, newest first"});
    router.Add(verb::get, "/api/admin/customers/{id}", MakeAdminCustomerHandler(s),
               {false, "A customer's plan, GPUs, payments, ledger, mails and alerts"});
    router.Add(verb::delete_, "/api/admin/customers/{id}", MakeAdminCustomerDeleteHandler(s),
               {true, "Delete a customer's account and data"});
    router.Add(verb::post, "/api/admin/customers/{id}/plan", MakeAdminCustomerPlanHandler(s),
               {true, "Change a customer's plan (with a reason)"});
    router.Add(verb::post, "/api/admin/customers/{id}/extend", MakeAdminCustomerExtendHandler(s),
               {true, "Extend a customer's paid period"});
    router.Add(verb::post, "/api/admin/customers/{id}/welcome", MakeAdminCustomerWelcomeHandler(s),
               {false, "Send the welcome mail again"});
    router.Add(verb::post, "/api/admin/customers/{id}/disable", MakeAdminCustomerDisableHandler(s, true),
               {true, "Disable a customer (keys, sessions and sign-in stop)"});
    router.Add(verb::post, "/api/admin/customers/{id}/enable", MakeAdminCustomerDisableHandler(s, false),
               {true, "Enable a disabled customer"});
    router.Add(verb::get, "/api/admin/export/customers.csv", MakeAdminExportHandler(s, "customers"),
               {false, "Every customer as CSV"});
    router.Add(verb::get, "/api/admin/export/payments.csv", MakeAdminExportHandler(s, "payments"),
               {false, "Every payment as CSV"});
    router.Add(verb::get, "/api/admin/export/ledger.csv", MakeAdminExportHandler(s, "ledger"),
               {false, "The revenue ledger as CSV"});
    router.Add(verb::get, "/api/admin/payments", MakeAdminPaymentsHandler(s), {false, "Every payment, newest first"});
    router.Add(verb::post, "/api/admin/payments/{id}/verify", MakeAdminVerifyPaymentHandler(s),
               {false, "Ask the gateway about a payment now"});
    router.Add(verb::post, "/api/admin/payments/{id}/refund", MakeAdminRefundPaymentHandler(s),
               {true, "Record a refund made at the gateway"});
    router.Add(verb::get, "/api/admin/gateway-events", MakeAdminGatewayEventsHandler(s),
               {false, "Gateway deliveries and what came of each"});
    router.Add(verb::get, "/api/admin/mail", MakeAdminMailHandler(s), {false, "The mail outbox, newest first"});
    router.Add(verb::post, "/api/admin/mail/{id}/retry", MakeAdminMailActionHandler(s, true),
               {false, "Send a failed mail again"});
    router.Add(verb::post, "/api/admin/mail/{id}/cancel", MakeAdminMailActionHandler(s, false),
               {false, "Do not send a waiting mail"});
    router.Add(verb::get, "/api/admin/security-events", MakeAdminSecurityEventsHandler(s),
               {false, "Security events, newest first"});
    router.Add(verb::get, "/api/admin/blocks", MakeAdminBlocksHandler(s), {false, "Blocked addresses"});
    router.Add(verb::post, "/api/admin/blocks", MakeAdminBlockHandler(s), {true, "Block an address by hand"});
    router.Add(verb::delete_, "/api/admin/blocks", MakeAdminUnblockHandler(s), {false, "Lift an address's block"});
    router.Add(verb::get, "/api/admin/system", MakeAdminSystemHandler(s),
               {false, "Jobs, database, version, features and missing settings"});
    router.Add(verb::get, "/api/admin/acquisition/funnel", MakeAdminFunnelHandler(s),
               {false, "The funnel by source, by sequence and by day, and the sources' state"});
    router.Add(verb::get, "/api/admin/acquisition/leads", MakeAdminLeadsHandler(s), {false, "Leads"});
    router.Add(verb::get, "/api/admin/acquisition/leads/{id}", MakeAdminLeadHandler(s, false),
               {false, "A lead's whole history"});
    router.Add(verb::get, "/api/admin/acquisition/leads/{id}/export", MakeAdminLeadHandler(s, true),
               {false, "A lead's history as a JSON download (audited)"});
    router.Add(verb::post, "/api/admin/acquisition/leads/{id}/mark", MakeAdminLeadMarkHandler(s),
               {true, "Mark a lead bounced, replied, complained or unsubscribed"});
    router.Add(verb::delete_, "/api/admin/acquisition/leads/{id}", MakeAdminLeadEraseHandler(s),
               {true, "Erase a lead (a hashed suppression entry stays)"});
    router.Add(verb::get, "/api/admin/acquisition/prospects", MakeAdminProspectsHandler(s, false),
               {false, "GitHub prospects, best first"});
    router.Add(verb::post, "/api/admin/acquisition/prospects/{id}", MakeAdminDecideHandler(s, false),
               {true, "Record what was done about a prospect"});
    router.Add(verb::get, "/api/admin/acquisition/conversations", MakeAdminProspectsHandler(s, true),
               {false, "Reddit conversations, newest first"});
    router.Add(verb::post, "/api/admin/acquisition/conversations/{id}", MakeAdminDecideHandler(s, true),
               {true, "Record what was done about a conversation"});
    router.Add(verb::get, "/api/admin/acquisition/sequences", MakeAdminSequencesHandler(s),
               {false, "Sequences, their steps and state"});
    router.Add(verb::post, "/api/admin/acquisition/sequences/{name}/pause", MakeAdminSequencePauseHandler(s, true),
               {true, "Pause a sequence"});
    router.Add(verb::post, "/api/admin/acquisition/sequences/{name}/resume", MakeAdminSequencePauseHandler(s, false),
               {true, "Resume a sequence"});
    router.Add(verb::get, "/api/admin/acquisition/suppressions", MakeAdminSuppressionsHandler(s, false),
               {false, "The suppression list"});
    router.Add(verb::get, "/api/admin/acquisition/suppressions.csv", MakeAdminSuppressionsHandler(s, true),
               {false, "The suppression list as CSV (audited)"});
    router.Add(verb::post, "/api/admin/acquisition/suppressions", MakeAdminSuppressHandler(s),
               {true, "Suppress an address or a domain"});
    router.Add(verb::get, "/api/admin/acquisition/referrals", MakeAdminReferralsHandler(s),
               {false, "Referral codes and what they brought"});
    router.Add(verb::post, "/api/admin/acquisition/referrals", MakeAdminCreateReferralHandler(s),
               {true, "Make a referral code"});
    router.Add(verb::post, "/api/admin/acquisition/discover", MakeAdminDiscoverHandler(s),
               {true, "Look at the sources now"});
    router.Add(verb::get, "/api/me", MakeMeHandler(s), {false, "The caller's account"});
    router.Add(verb::delete_, "/api/me", MakeDeleteAccountHandler(s), {true, "Delete the account and its data"});
    router.Add(verb::get, "/api/me/keys", MakeListKeysHandler(s), {false, "The account's API keys"});
    router.Add(verb::post, "/api/me/keys", MakeCreateKeyHandler(s), {true, "Make a named API key (shown once)"});
    router.Add(verb::post, "/api/me/keys/{id}/rotate", MakeRotateKeyHandler(s),
               {false, "Replace a key with a new one (shown once)"});
    router.Add(verb::delete_, "/api/me/keys/{id}", MakeRevokeKeyHandler(s), {false, "Revoke an API key"});
    router.Add(verb::get, "/api/stats", MakeStatsHandler(s), {false, "Operator statistics (ADMIN_TOKEN)"});
    router.Add(verb::get, "/api/plans", MakePlansHandler(s), {false, "Plans and prices from configuration"});
    router.Add(verb::get, "/api/gpus", MakeGpusHandler(s), {false, "The caller's GPUs and their current state"});
    router.Add(verb::get, "/api/usage", MakeUsageHandler(s), {false, "Utilization, memory and idle cost over time"});
    router.Add(verb::get, "/api/savings", MakeSavingsHandler(s),
               {false, "Idle time, idle cost and recoverable savings"});
    router.Add(verb::get, "/api/recommendations", MakeRecommendationsHandler(s), {false, "Priced recommendations"});
    router.Add(verb::put, "/api/recommendations/mark", MakeMarkRecommendationHandler(s),
               {true, "Mark a recommendation done or dismissed, or open again"});
    router.Add(verb::get, "/api/me/alerts", MakeGetAlertsHandler(s), {false, "Idle-alert settings and recent alerts"});
    router.Add(verb::put, "/api/me/alerts", MakePutAlertsHandler(s), {true, "Set the idle-alert webhook"});
    router.Add(verb::get, "/api/me/idle-policy", MakeGetIdlePolicyHandler(s),
               {false, "The idle policy, snoozes and what agents did"});
    router.Add(verb::put, "/api/me/idle-policy", MakePutIdlePolicyHandler(s), {true, "Set the idle policy"});
    router.Add(verb::post, "/api/me/idle-policy/snooze", MakeSnoozeIdleHandler(s),
               {true, "Hold back idle actions on a GPU"});
    router.Add(verb::get, "/api/me/reports", MakeGetReportsHandler(s), {false, "Report mail settings"});
    router.Add(verb::put, "/api/me/reports", MakePutReportsHandler(s), {true, "Turn report mails on or off"});
    router.Add(verb::get, "/api/reports/unsubscribe", MakeUnsubscribePageHandler(s),
               {false, "The page a report's unsubscribe link opens"});
    router.Add(verb::post, "/api/reports/unsubscribe", MakeUnsubscribeHandler(s),
               {false, "Turn report mails off from a report's link (one click)"});
    router.Add(verb::get, "/api/me/webhooks", MakeListWebhooksHandler(s), {false, "Outgoing webhook endpoints"});
    router.Add(verb::post, "/api/me/webhooks", MakeAddWebhookHandler(s), {true, "Add an outgoing webhook endpoint"});
    router.Add(verb::delete_, "/api/me/webhooks/{id}", MakeDeleteWebhookHandler(s),
               {false, "Remove an outgoing webhook endpoint"});
    router.Add(verb::get, "/api/me/webhooks/{id}/deliveries", MakeWebhookDeliveriesHandler(s),
               {false, "An outgoing webhook's delivery log"});
    router.Add(verb::get, "/metrics", MakeMetricsHandler(s),
               {false, "Prometheus metrics (operator token or loopback)"});
    router.Add(verb::post, "/api/upgrade", MakeUpgradeHandler(s), {true, "Start a checkout for a paid plan"});
    router.Add(verb::get, "/api/payment/gateways", MakeGatewaysHandler(s),
               {false, "Payment gateways and their currencies"});
    router.Add(verb::get, "/api/me/payments", MakeMyPaymentsHandler(s), {false, "The caller's payments"});
    router.Add(verb::get, "/payment/flutterwave/callback", MakeFlutterwaveCallbackHandler(s),
               {false, "The customer back from Flutterwave"});
    router.Add(verb::post, "/payment/flutterwave/webhook", MakeFlutterwaveWebhookHandler(s),
               {true, "Flutterwave events (verif-hash)"});
    router.Add(verb::post, "/payment/nowpayments/webhook", MakeNowPaymentsWebhookHandler(s),
               {true, "NOWPayments IPN (x-nowpayments-sig)"});
    // Acquisition (SPEC §9): the audit form with double opt-in, sequence mails' unsubscribe, mail events.
    router.Add(verb::get, "/api/audit-requests", MakeAuditFormHandler(s), {false, "What the audit form shows"});
    router.Add(verb::post, "/api/audit-requests", MakeAuditRequestHandler(s),
               {true, "Ask for a free GPU cost audit (a confirmation link is mailed)"});
    router.Add(verb::get, "/audit/confirm", MakeAuditConfirmPageHandler(s),
               {false, "The page an audit confirmation link opens"});
    router.Add(verb::post, "/audit/confirm", MakeAuditConfirmHandler(s), {false, "Confirm an audit request"});
    router.Add(verb::get, "/unsubscribe", MakeLeadUnsubscribePageHandler(s),
               {false, "The page a sequence mail's unsubscribe link opens"});
    router.Add(verb::post, "/unsubscribe", MakeLeadUnsubscribeHandler(s),
               {false, "Unsubscribe from sequence mails (the page's button, RFC 8058 one-click)"});
    router.Add(verb::post, "/api/webhooks/sendgrid", MakeSendgridEventsHandler(s),
               {true, "SendGrid Event Webhook (ECDSA-signed): bounces, complaints, unsubscribes"});
}

}  // namespace gpuopt::api

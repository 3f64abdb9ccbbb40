#include "store/audit_chain.hpp"

#include "common/crypto.hpp"

namespace gpuopt::store {

std::string AuditRowHash(std::string_view key, const AuditEntry& entry) {
    std::string message;
    auto add = [&message](std::string_view field) {
        message += std::to_string(field.size());
        message += ':';
        message += field;
        message += ';';
    };
    add(entry.prev_hash);
    add(std::to_string(entry.id));
    add(FormatUtc(entry.at));
    add(entry.actor_type);
    add(entry.actor);
    add(entry.action);
    add(entry.target);
    add(entry.before);
    add(entry.after);
    add(entry.result);
    add(entry.ip);
    add(entry.session_ref);
    return HmacSha256Hex(key, message);
}

}  // namespace gpuopt::store

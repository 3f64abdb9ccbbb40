// The sequences' run (SPEC §9, decision 0030): leads are brought up to date (new signups, agents that
// reported, plans paid for, accounts deleted), leads join the sequences their segment holds and leave them
// by the exit rules, and each due step is sent inside the lead's send window, under the sender's daily cap
// and the recipient domain's spacing, with jitter. A step is queued in the mail outbox in the transaction
// that moves its enrollment on (AcquisitionStore::SendStep): once per (sequence, step, lead), whatever
// restarts or servers come between.
#pragma once

#include <cstdint>
#include <random>

#include "acquisition/outreach.hpp"
#include "acquisition/settings.hpp"
#include "common/result.hpp"
#include "common/time.hpp"
#include "store/acquisition.hpp"
#include "store/database.hpp"

namespace gpuopt::acquisition {

struct SequenceRun {
    store::SyncOutcome sync;
    int queued = 0;
    int postponed = 0;  // outside the window, over the cap or the domain's spacing: later
    int suppressed = 0;
    int gone = 0;  // sent or stopped meanwhile (another server, a restart)
};

// The first moment at or after `t` inside the window, for a lead `offset_minutes` east of UTC.
SysSeconds NextInWindow(SysSeconds t, int offset_minutes, const SendWindow& window);

// The rules the store's sync applies, from the settings.
store::SyncRules SyncRulesOf(const Settings& settings, int free_gpu_limit);

// One run at `now`. While SequencesOff(outreach) says why, only the leads are brought up to date.
Result<SequenceRun> RunSequences(store::Database& db, const Settings& settings, const Outreach& outreach,
                                 SysSeconds now, std::mt19937_64& random);

}  // namespace gpuopt::acquisition

// NOTIFY payloads: {"tenant_id": "...", "domain": "...", "version": N,
// "lsn": "X/Y"}, one per pair (format object) or packed in JSON arrays under
// the 8000-byte payload limit (format array).
#include "pg_fraiseql_cache/notify.hpp"

#include "pg_fraiseql_cache/boundary.hpp"
#include "pg_fraiseql_cache/guc.hpp"
#include "pg_fraiseql_cache/shared_state.hpp"

extern "C" {
#include "access/xlog.h"
#include "commands/async.h"
#include "lib/stringinfo.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
}

namespace fraiseql_cache::notify {
namespace {

// Async_Notify's limit is NOTIFY_PAYLOAD_MAX_LENGTH (8000) including the
// terminating NUL.
constexpr int kMaxPayload = 7999;
// Above this fill of the server's notification queue, skip notifying
// rather than risk failing the worker's commit on a full queue.
constexpr double kQueueHighWater = 0.9;

void append_object(StringInfo buf, const Announcement &a, const char *lsn) {
    pg_uuid_t u;
    memcpy(u.data, a.tenant.bytes, UUID_LEN);
    char *tenant = DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(&u)));
    appendStringInfo(buf, "{\"tenant_id\": \"%s\", \"domain\": ", tenant);
    escape_json(buf, a.domain.bytes);
    appendStringInfo(buf, ", \"version\": %llu", (unsigned long long)a.version);
    if (a.domain_floor != 0)
        appendStringInfo(buf, ", \"domain_floor\": %llu", (unsigned long long)a.domain_floor);
    appendStringInfo(buf, ", \"lsn\": \"%s\"}", lsn);
}

double queue_usage() {
    LOCAL_FCINFO(fcinfo, 0);
    InitFunctionCallInfoData(*fcinfo, nullptr, 0, InvalidOid, nullptr, nullptr);
    return DatumGetFloat8(pg_notification_queue_usage(fcinfo));
}

}  // namespace

uint64_t send(const std::vector<Announcement> &announcements) {
    if (!settings.notify || announcements.empty())
        return 0;
    return pg_call([&] {
        double usage = queue_usage();
        if (usage > kQueueHighWater) {
            ereport(WARNING,
                    (errmsg("pg_fraiseql_cache: notification queue is %.0f%% full, "
                            "not sending %zu notifications",
                            usage * 100, announcements.size()),
                     errhint("A session is LISTENing without consuming notifications.")));
            return uint64_t(0);
        }
        const char *channel = settings.notify_channel;
        // Every transaction this batch counts committed before it was
        // drained, so its commit record lies below this position: a standby
        // that has replayed past it shows their data (client replica mode).
        const XLogRecPtr at = GetXLogInsertRecPtr();
        char queued_lsn[32];
        snprintf(queued_lsn, sizeof queued_lsn, "%X/%X", uint32(at >> 32), uint32(at));
        char own_lsn[32];
        uint64_t sent = 0;
        StringInfoData one;
        StringInfoData batch;
        initStringInfo(&one);
        initStringInfo(&batch);
        bool as_array = settings.notify_format == int(NotifyFormat::kArray);
        for (const Announcement &a : announcements) {
            resetStringInfo(&one);
            const char *lsn = queued_lsn;
            if (a.lsn != 0) {
                snprintf(own_lsn, sizeof own_lsn, "%X/%X", uint32(a.lsn >> 32), uint32(a.lsn));
                lsn = own_lsn;
            }
            append_object(&one, a, lsn);
            if (!as_array) {
                Async_Notify(channel, one.data);
                sent++;
                continue;
            }
            // "[" + objects joined by ", " + "]"
            if (batch.len > 0 && batch.len + 2 + one.len + 1 > kMaxPayload) {
                appendStringInfoChar(&batch, ']');
                Async_Notify(channel, batch.data);
                sent++;
                resetStringInfo(&batch);
            }
            appendStringInfoString(&batch, batch.len == 0 ? "[" : ", ");
            appendBinaryStringInfo(&batch, one.data, one.len);
        }
        if (batch.len > 0) {
            appendStringInfoChar(&batch, ']');
            Async_Notify(channel, batch.data);
            sent++;
        }
        pfree(one.data);
        pfree(batch.data);
        return sent;
    });
}

void send_heartbeat(uint64_t published, uint64_t floor) {
    pg_call([&] {
        char channel[NAMEDATALEN];
        snprintf(channel, sizeof channel, "%s_heartbeat", settings.notify_channel);
        StringInfoData buf;
        initStringInfo(&buf);
        appendStringInfo(&buf, "{\"at\": \"%s\", \"published\": %llu, \"floor\": %llu}",
                         timestamptz_to_str(GetCurrentTimestamp()),
                         (unsigned long long)published, (unsigned long long)floor);
        Async_Notify(channel, buf.data);
        pfree(buf.data);
    });
}

}  // namespace fraiseql_cache::notify

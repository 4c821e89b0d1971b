/* deadletter.h - dead-letter streams: a consumer group's limit on deliveries (XGROUP CREATE ...
 * MAXDELIVERIES n [DEADLETTER key], XGROUP SETDLQ). A pending entry that would be delivered
 * more than n times (XREADGROUP history reads and CLAIM, XCLAIM, XAUTOCLAIM) is appended to the
 * dead-letter stream instead, with its fields and four more (origin-key, origin-group,
 * origin-id, delivery-count), and acknowledged: both in the same submission, the dead letter
 * written first. Without a dead-letter key the entry is acknowledged and dropped. Main thread
 * only. */
#ifndef OBK_DEADLETTER_H
#define OBK_DEADLETTER_H

#include <stdint.h>

#include "storage/sid.h"

struct topic;
struct cg_group;

/* The field names a dead letter carries after the entry's own fields. */
#define DEADLETTER_FIELD_KEY   "origin-key"
#define DEADLETTER_FIELD_GROUP "origin-group"
#define DEADLETTER_FIELD_ID    "origin-id"
#define DEADLETTER_FIELD_COUNT "delivery-count"

/* 1 when delivering a pending entry of g for the deliveries-th time goes over its limit. */
int deadletter_due(const struct cg_group *g, uint64_t deliveries);
/* Called, inside the command's open group record, before delivering pending entry id of g on t
 * (key in database db) for the deliveries-th time. Returns 1 when the policy took it (the
 * caller then skips it), 0 to deliver as usual: under the limit, the entry no longer in the
 * stream, or the dead letter could not be written (logged; the entry stays pending and is
 * tried again at its next delivery). */
int deadletter_divert(int db, struct topic *t, struct cg_group *g, sid_t id, uint64_t deliveries);

#endif

/* pubsub.h - Redis pub/sub: channels and patterns, SUBSCRIBE / UNSUBSCRIBE / PSUBSCRIBE /
 * PUNSUBSCRIBE / PUBLISH / PUBSUB, messages as RESP2 arrays or RESP3 pushes. Sentinel talks to
 * servers through it (__sentinel__:hello), and users use it as in Redis: messages are not
 * stored, a subscriber gets what is published while it is connected. Domain level; its
 * per-client state sits behind struct client's `pubsub` and goes with pubsub_release_client.
 * Main thread only. */
#ifndef OBK_PUBSUB_H
#define OBK_PUBSUB_H

#include <stddef.h>

struct client;
struct acl_user;

/* The subscriptions of a client (channels + patterns), as Redis counts them. */
int pubsub_count(const struct client *c);
int pubsub_channel_count(const struct client *c);
int pubsub_pattern_count(const struct client *c);
/* Delivers message to every subscriber of channel and of a matching pattern; returns how many
 * got it (PUBLISH's reply). Usable by the server itself (e.g. Sentinel's hello channel). */
long long pubsub_publish(const char *channel, size_t chlen, const char *msg, size_t msglen);
/* Drops every subscription of c (RESET, and the transport's release hook). */
void pubsub_unsubscribe_all(struct client *c);
void pubsub_release_client(struct client *c);
/* 1 when user u may keep every subscription of c (ACL SETUSER closes a subscriber that lost
 * one, as Redis does). */
int pubsub_allowed_for(const struct client *c, const struct acl_user *u);
/* Channels and patterns with subscribers (INFO pubsub_channels / pubsub_patterns). */
long long pubsub_total_channels(void);
long long pubsub_total_patterns(void);

#endif

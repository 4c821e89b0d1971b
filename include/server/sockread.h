/* sockread.h - reading what a plain socket holds into a bufferevent's input in one call, past
 * libevent 2.1's 4 KiB per read event. Main thread (the bufferevent's owner). */
#ifndef OBK_SOCKREAD_H
#define OBK_SOCKREAD_H

#include <stddef.h>

struct bufferevent;

/* Moves up to max bytes that the socket of bev holds now into bev's input buffer, with one
 * readv into the buffer's free space; bev must be a plain socket bufferevent (not TLS). Returns
 * the bytes read; 0 when the socket held none, was closed or failed (the bufferevent's own next
 * read sees the end or the error and reports it as always). */
size_t sockread_more(struct bufferevent *bev, size_t max);

#endif

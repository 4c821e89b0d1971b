/* repl_diverge.h - what a full sync drops: before a replica's data is replaced by its
 * primary's snapshot, every stream is compared with the received copy, and the entries the new
 * primary does not have (a former primary's unreplicated tail after a failover) are logged, key
 * by key, with their count and IDs. Main thread only (it opens the received copy as a store
 * for the comparison, on the caller's thread). */
#ifndef OBK_REPL_DIVERGE_H
#define OBK_REPL_DIVERGE_H

struct store;

/* Compares the open store cur with the data directory at incoming (the received snapshot) and
 * logs what cur holds that incoming does not. Returns the number of entries dropped, or -1
 * when the copy could not be opened (nothing is logged then but that). */
long long repl_log_dropped(struct store *cur, const char *incoming);

#endif

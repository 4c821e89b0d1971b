/* keyspace.h - the per-database key space seen by DBSIZE, FLUSHDB, FLUSHALL and INFO keyspace.
 * Stream topics are its only key type. */
#ifndef OBK_KEYSPACE_H
#define OBK_KEYSPACE_H

long long keyspace_size(int db);
/* Removes every key of the database durably. Returns 0 or -1 (logged). */
int keyspace_flush(int db);

#endif

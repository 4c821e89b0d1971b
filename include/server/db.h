/* db.h - the per-database key space seen by DBSIZE, FLUSHDB, FLUSHALL and INFO keyspace.
 * Stream topics are its only key type. */
#ifndef OBK_DB_H
#define OBK_DB_H

long long db_size(int db);
/* Removes every key of the database durably. Returns 0 or -1 (logged). */
int db_flush(int db);

#endif

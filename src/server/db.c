/* db.c - the key space of each database.
 *
 * Stream topics are the only key type Obelisk stores; until the stream commands are wired to
 * the storage engine no command can create a key, so every database is empty and a flush has
 * nothing to remove. Main thread only. */
#include "server/db.h"

long long db_size(int db) {
    (void)db;
    return 0;
}

int db_flush(int db) {
    (void)db;
    return 0;
}

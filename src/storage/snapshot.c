/* snapshot.c - hard-linked copies of a data set's files at a sync point (see snapshot.h).
 *
 * Links are cheap (no data is copied, a few system calls per file) and need no descriptor per
 * file while the transfer runs, so a data set of thousands of topics stays within the
 * descriptor budget. Checkpoints and indexes are linked too: the replica then opens the copy
 * as a restart would open it. Owned by the thread that holds the store. */
#include "storage/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/status.h"
#include "storage/fsutil.h"
#include "topic_impl.h"

struct walk {
    struct snapshot *sn;
    int snapfd; /* <dir>/<name> */
    int rc;
};

static int add_file(struct snapshot *sn, const char *path, uint64_t size) {
    if (sn->nfiles == sn->cap) {
        size_t cap = sn->cap ? 2 * sn->cap : 64;
        struct snapshot_file *nf = realloc(sn->files, cap * sizeof(*nf));
        if (!nf) return OBK_ERR_NOMEM;
        sn->files = nf;
        sn->cap = cap;
    }
    if (!(sn->files[sn->nfiles].path = strdup(path))) return OBK_ERR_NOMEM;
    sn->files[sn->nfiles++].size = size;
    sn->bytes += size;
    return OBK_OK;
}

static int is_tmp(const char *name) {
    size_t n = strlen(name);
    return n >= 4 && !strcmp(name + n - 4, ".tmp");
}

/* Links every regular file of topic t into <snap>/db<N>/<topic>/. */
static int link_topic(struct walk *w, struct topic *t) {
    char dbname[16], path[KEYDIR_NAME_MAX + 300];
    snprintf(dbname, sizeof dbname, "db%d", t->db);
    int dbfd = -1, tfd = -1, srcfd = -1, rc = OBK_OK;
    DIR *d = NULL;
    if (mkdirat(w->snapfd, dbname, 0700) != 0 && errno != EEXIST) return OBK_ERR_IO;
    if ((dbfd = openat(w->snapfd, dbname, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        mkdirat(dbfd, t->name, 0700) != 0 ||
        (tfd = openat(dbfd, t->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        (srcfd = openat(t->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        !(d = fdopendir(srcfd))) {
        rc = errno == EMFILE || errno == ENFILE ? OBK_ERR_NOFILES : OBK_ERR_IO;
        goto done;
    }
    srcfd = -1; /* the DIR owns it */
    struct dirent *de;
    while (rc == OBK_OK && (de = readdir(d)) != NULL) {
        struct stat st;
        if (de->d_name[0] == '.' || is_tmp(de->d_name)) continue;
        if (fstatat(t->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (linkat(t->dirfd, de->d_name, tfd, de->d_name, 0) != 0) {
            rc = OBK_ERR_IO;
            break;
        }
        snprintf(path, sizeof path, "%s/%s/%s", dbname, t->name, de->d_name);
        rc = add_file(w->sn, path, (uint64_t)st.st_size);
    }
done:
    if (d) closedir(d);
    if (srcfd >= 0) close(srcfd);
    if (tfd >= 0) close(tfd);
    if (dbfd >= 0) close(dbfd);
    return rc;
}

static void visit(void *ctx, struct topic *t) {
    struct walk *w = ctx;
    if (w->rc == OBK_OK) w->rc = link_topic(w, t);
}

int snapshot_create(struct store *s, const char *name, struct snapshot **out) {
    struct snapshot *sn = calloc(1, sizeof(*sn));
    struct walk w = {sn, -1, OBK_OK};
    int rc;
    *out = NULL;
    if (!sn) return OBK_ERR_NOMEM;
    sn->dirfd = store_dirfd(s);
    snprintf(sn->name, sizeof sn->name, "%s", name);
    if ((rc = fsutil_remove_tree(sn->dirfd, name, 4)) != OBK_OK) goto fail;
    if ((rc = store_sync_point(s)) != OBK_OK) goto fail;
    if (mkdirat(sn->dirfd, name, 0700) != 0 ||
        (w.snapfd = openat(sn->dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        rc = OBK_ERR_IO;
        goto fail;
    }
    for (int db = 0; db < store_ndbs(s) && w.rc == OBK_OK; db++) store_foreach(s, db, visit, &w);
    close(w.snapfd);
    if ((rc = w.rc) != OBK_OK) goto fail;
    *out = sn;
    return OBK_OK;
fail:
    snapshot_remove(sn);
    return rc;
}

int snapshot_open(const struct snapshot *sn, size_t i) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", sn->name, sn->files[i].path);
    return openat(sn->dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
}

void snapshot_remove(struct snapshot *sn) {
    if (!sn) return;
    if (sn->name[0]) fsutil_remove_tree(sn->dirfd, sn->name, 4);
    for (size_t i = 0; i < sn->nfiles; i++) free(sn->files[i].path);
    free(sn->files);
    free(sn);
}

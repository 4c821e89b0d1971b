/* fuzz_config.c - libFuzzer target for the configuration parser (src/server/config.c).
 *
 * Input: config file text, then optionally a NUL byte and CONFIG SET arguments separated by
 * NUL bytes. The text is loaded as the command-line lines are (config_load), the arguments go
 * to config_set. Then every directive's CONFIG GET value must load back (as a quoted config
 * file line) and read back unchanged.
 * Inputs with an "include" line are skipped: that directive opens files. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"
#include "server/config.h"

#define MAX_ARGS 64

static int has_include(const char *text) {
    const char *p = text;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char **argv;
        size_t *lens;
        int argc = util_split_args(p, len, &argv, &lens);
        int inc = argc > 0 && !strcasecmp(argv[0], "include");
        if (argc > 0) util_free_args(argv, lens, argc);
        if (inc) return 1;
        p += len;
        if (*p == '\n') p++;
    }
    return 0;
}

/* "name \"value\"\n" with the value quoted as a config file line takes it: \\, \" and \xHH
 * for other bytes outside printable ASCII. (Not config_args_to_lines: on the command line a
 * value that starts with "--" is read as the next option, as Redis's command line does.) */
static char *quoted_line(const char *name, const char *value) {
    size_t n = strlen(name), v = strlen(value);
    char *line = malloc(n + 4 * v + 8);
    if (!line) abort();
    char *o = line + sprintf(line, "%s \"", name);
    for (const unsigned char *c = (const unsigned char *)value; *c; c++) {
        if (*c == '"' || *c == '\\')
            o += sprintf(o, "\\%c", *c);
        else if (*c >= 0x20 && *c < 0x7f)
            *o++ = (char)*c;
        else
            o += sprintf(o, "\\x%02x", *c);
    }
    strcpy(o, "\"\n");
    return line;
}

struct got {
    char *name[128];
    char *value[128];
    int n;
};

static void collect(void *ctx, const char *name, const char *value) {
    struct got *g = ctx;
    if (g->n == 128) abort();
    g->name[g->n] = strdup(name);
    g->value[g->n] = strdup(value);
    if (!g->name[g->n] || !g->value[g->n]) abort();
    g->n++;
}

static void got_free(struct got *g) {
    for (int i = 0; i < g->n; i++) free(g->name[i]), free(g->value[i]);
    g->n = 0;
}

static void get_all(struct got *g) {
    const char *pat = "*";
    size_t plen = 1;
    g->n = 0;
    config_get(&pat, &plen, 1, collect, g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) abort();
    memcpy(text, data, size);
    text[size] = '\0';
    size_t tlen = strlen(text);
    if (has_include(text)) {
        free(text);
        return 0;
    }
    char err[1024];
    config_init_defaults();
    if (config_load(NULL, text, err, sizeof err) == 0 && tlen < size) {
        char *argv[MAX_ARGS];
        size_t lens[MAX_ARGS];
        int argc = 0;
        for (size_t at = tlen + 1; at <= size && argc < MAX_ARGS;) {
            argv[argc] = text + at;
            lens[argc] = strlen(text + at);
            at += lens[argc++] + 1;
        }
        config_set(argv, lens, argc, err, sizeof err);
    }
    struct got before, after;
    get_all(&before);
    for (int i = 0; i < before.n; i++) {
        char *lines = quoted_line(before.name[i], before.value[i]);
        if (config_load(NULL, lines, err, sizeof err) != 0) {
            fprintf(stderr, "CONFIG GET %s gave a value that does not load back:%s\n",
                    before.name[i], err);
            abort();
        }
        free(lines);
    }
    get_all(&after);
    if (after.n != before.n) abort();
    for (int i = 0; i < before.n; i++) {
        if (strcmp(before.name[i], after.name[i]) || strcmp(before.value[i], after.value[i])) {
            fprintf(stderr, "CONFIG GET %s: '%s', loaded back: '%s'\n", before.name[i],
                    before.value[i], after.value[i]);
            abort();
        }
    }
    got_free(&before);
    got_free(&after);
    config_free();
    free(text);
    return 0;
}

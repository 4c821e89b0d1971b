/* main.c - obelisk-server [config-file] [--directive value ...]
 *
 * Reads the configuration (file, then command-line overrides), sets up logging, daemonizes and
 * writes the pid file when asked, then runs the server until a graceful shutdown. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "server/config.h"
#include "server/runtime.h"
#include "server/server.h"

static void usage(void) {
    fprintf(stderr, "Usage: ./obelisk-server [/path/to/obelisk.conf] [options]\n"
                    "       ./obelisk-server - (read config from stdin)\n"
                    "       ./obelisk-server -v or --version\n"
                    "       ./obelisk-server -h or --help\n\n"
                    "Examples:\n"
                    "       ./obelisk-server conf/obelisk.conf\n"
                    "       ./obelisk-server --port 0 --dir /tmp/data --loglevel verbose\n");
}

static int daemonize(void) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid > 0) exit(0); /* the parent returns to the shell */
    setsid();
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO) close(fd);
    }
    return 0;
}

static void write_pidfile(void) {
    FILE *f = fopen(server_config.pidfile, "w");
    if (!f) {
        log_msg(LOG_WARNING, "Failed to write PID file: %s", strerror(errno));
        return;
    }
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
}

int main(int argc, char **argv) {
    const char *conf = NULL;
    int first_opt = 1;
    char err[2048];
    if (argc >= 2) {
        if (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version")) {
            printf("Obelisk server v=%s (Redis %s protocol and stream semantics)\n",
                   OBELISK_VERSION, OBELISK_REDIS_VERSION);
            return 0;
        }
        if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
            usage();
            return 0;
        }
        if (argv[1][0] != '-' || argv[1][1] == '\0') {
            conf = strcmp(argv[1], "-") ? argv[1] : "/dev/stdin";
            first_opt = 2;
        }
    }
    config_init_defaults();
    char *lines = config_args_to_lines(argc - first_opt, argv + first_opt);
    if (!lines || config_load(conf, lines, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", lines ? err : "out of memory");
        free(lines);
        config_free();
        return 1;
    }
    free(lines);
    if (log_setup(server_config.loglevel, server_config.logfile) != 0) {
        fprintf(stderr, "Can't open the log file: %s\n", strerror(errno));
        config_free();
        return 1;
    }
    if (server_config.daemonize && daemonize() != 0) {
        fprintf(stderr, "Can't daemonize: %s\n", strerror(errno));
        config_free();
        return 1;
    }
    /* the log's own descriptor follows the new standard output (/dev/null) when daemonized */
    if (server_config.daemonize) log_setup(server_config.loglevel, server_config.logfile);
    log_msg(LOG_NOTICE, "oO0OoO0OoO0Oo Obelisk is starting oO0OoO0OoO0Oo");
    log_msg(LOG_NOTICE, "Obelisk version=%s, redis_version=%s, bits=%d, pid=%d, just started",
            OBELISK_VERSION, OBELISK_REDIS_VERSION, (int)(sizeof(long) * 8), (int)getpid());
    if (conf)
        log_msg(LOG_NOTICE, "Configuration loaded");
    else
        log_msg(LOG_WARNING, "Warning: no config file specified, using the default config.");
    int rc = 1;
    if (server_init() == 0) {
        /* after the data directory's lock: a refused second server leaves the pid file alone */
        if (server_config.pidfile[0]) write_pidfile();
        rc = server_run();
    }
    server_free();
    config_free();
    return rc;
}

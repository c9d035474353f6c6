/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanternd: the fleet verifier. Enrolls machines (EK certificate + credential activation of their AK), hands
 * out nonces, verifies quotes and event logs against each machine's golden values (from `lantern predict`),
 * and releases a machine's secret on a passing verdict. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lantern-config.h"
#include "verifier-server.h"
#include "verifier-service.h"

#define MAX_CAS 16
#define DEFAULT_PORT 7780

static const char *const default_cas[] = {
        "/var/lib/swtpm-localca/swtpm-localca-rootca-cert.pem",
        "/var/lib/swtpm-localca/issuercert.pem",
};

static void usage(FILE *f) {
        fputs("Usage: lanternd [--listen ADDR:PORT] --db FILE [--pid-file FILE] [--admin-token-file FILE]\n"
              "                [--ek-ca FILE]... [--nonce-ttl S] [--threads N] [--allow-remote]\n"
              "\n"
              "The Lantern fleet verifier: an HTTP JSON API (see docs/ATTEST.md).\n"
              "\n"
              "  --listen ADDR:PORT      address to listen on (default 127.0.0.1:7780; port 0 picks one)\n"
              "  --allow-remote          allow a non-loopback address (put TLS in front of it)\n"
              "  --db FILE               SQLite database (created when missing)\n"
              "  --pid-file FILE         write the process id there once listening\n"
              "  --admin-token-file F    token for the admin requests (golden values, secrets)\n"
              "  --ek-ca FILE            PEM certificate(s) EK certificates must chain to (repeatable;\n"
              "                          default: swtpm's local CA in /var/lib/swtpm-localca)\n"
              "  --nonce-ttl S           nonce lifetime in seconds (default 60)\n"
              "  --threads N             request threads (default 4)\n",
              f);
}

static int read_token(const char *path, char *buf, size_t len) {
        FILE *f = fopen(path, "re");
        size_t n;
        if (!f)
                return -errno;
        n = fread(buf, 1, len - 1, f);
        fclose(f);
        buf[n] = '\0';
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
                buf[--n] = '\0';
        return n >= 16 ? 0 : -EINVAL;
}

static int parse_listen(const char *arg, struct sockaddr_in *ret) {
        char host[64];
        const char *colon = strrchr(arg, ':');
        char *end;
        unsigned long port;

        if (!colon || (size_t) (colon - arg) >= sizeof(host) || colon == arg)
                return -EINVAL;
        memcpy(host, arg, (size_t) (colon - arg));
        host[colon - arg] = '\0';
        port = strtoul(colon + 1, &end, 10);
        if (!colon[1] || *end || port > 65535)
                return -EINVAL;
        memset(ret, 0, sizeof(*ret));
        ret->sin_family = AF_INET;
        ret->sin_port = htons((uint16_t) port);
        return inet_pton(AF_INET, host, &ret->sin_addr) == 1 ? 0 : -EINVAL;
}

static int write_pid_file(const char *path) {
        char tmp[4096], buf[32];
        int fd, n;

        if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int) sizeof(tmp))
                return -ENAMETOOLONG;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        n = snprintf(buf, sizeof(buf), "%d\n", (int) getpid());
        if (write(fd, buf, (size_t) n) != n || fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
                int r = -errno;
                unlink(tmp);
                return r;
        }
        return 0;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "listen", required_argument, NULL, 'l' },
                { "db", required_argument, NULL, 'd' },
                { "pid-file", required_argument, NULL, 'p' },
                { "admin-token-file", required_argument, NULL, 'a' },
                { "ek-ca", required_argument, NULL, 'c' },
                { "nonce-ttl", required_argument, NULL, 'n' },
                { "threads", required_argument, NULL, 't' },
                { "allow-remote", no_argument, NULL, 'R' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(DEFAULT_PORT),
                                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        const char *db = NULL, *pid_file = NULL, *token_file = NULL, *cas[MAX_CAS];
        size_t n_cas = 0;
        unsigned threads = 4;
        long ttl = 60;
        bool remote = false;
        char token[256] = "", err[512] = "";
        verifier_service svc = { .enroll_ttl = 300 };
        verifier_server *srv = NULL;
        sigset_t mask;
        int c, sig, r, ret = 1;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'l':
                        if (parse_listen(optarg, &addr) < 0) {
                                fprintf(stderr, "lanternd: --listen '%s': want IPv4-ADDRESS:PORT\n", optarg);
                                return 2;
                        }
                        break;
                case 'd':
                        db = optarg;
                        break;
                case 'p':
                        pid_file = optarg;
                        break;
                case 'a':
                        token_file = optarg;
                        break;
                case 'c':
                        if (n_cas == MAX_CAS) {
                                fprintf(stderr, "lanternd: more than %d --ek-ca\n", MAX_CAS);
                                return 2;
                        }
                        cas[n_cas++] = optarg;
                        break;
                case 'n': {
                        char *end;
                        ttl = strtol(optarg, &end, 10);
                        if (*end || ttl < 1 || ttl > 3600) {
                                fprintf(stderr, "lanternd: --nonce-ttl '%s': want 1 to 3600 seconds\n", optarg);
                                return 2;
                        }
                        break;
                }
                case 't': {
                        char *end;
                        unsigned long t = strtoul(optarg, &end, 10);
                        if (*end || t < 1 || t > 64) {
                                fprintf(stderr, "lanternd: --threads '%s': want 1 to 64\n", optarg);
                                return 2;
                        }
                        threads = (unsigned) t;
                        break;
                }
                case 'R':
                        remote = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case 'V':
                        printf("lanternd %s\n", LANTERN_VERSION);
                        return 0;
                default:
                        fprintf(stderr, "lanternd: unknown or incomplete option '%s'\n", argv[optind - 1]);
                        usage(stderr);
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "lanternd: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        if (!db) {
                fprintf(stderr, "lanternd: --db FILE is required\n");
                return 2;
        }
        if ((ntohl(addr.sin_addr.s_addr) >> 24) != 127 && !remote) {
                fprintf(stderr, "lanternd: refusing to listen on a non-loopback address without --allow-remote "
                                "(this server speaks plain HTTP: put TLS in front of it)\n");
                return 2;
        }
        if (token_file && (r = read_token(token_file, token, sizeof(token))) < 0) {
                fprintf(stderr, "lanternd: --admin-token-file %s: %s\n", token_file,
                        r == -EINVAL ? "the token must be at least 16 characters" : strerror(-r));
                return 2;
        }
        if (n_cas == 0)
                for (size_t i = 0; i < sizeof(default_cas) / sizeof(default_cas[0]); i++)
                        if (access(default_cas[i], R_OK) == 0)
                                cas[n_cas++] = default_cas[i];
        svc.nonce_ttl = ttl;
        if (n_cas && verifier_service_load_cas(&svc, cas, n_cas, err, sizeof(err)) < 0) {
                fprintf(stderr, "lanternd: --ek-ca: %s\n", err);
                return 2;
        }
        if (n_cas == 0)
                fprintf(stderr, "lanternd: no EK CA certificate: every enrollment will be refused\n");

        r = verifier_store_open(db, &svc.store, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "lanternd: --db: %s\n", err);
                goto finish;
        }

        /* Signals are taken by sigwait below, and the request threads inherit the mask. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        r = verifier_server_start(&svc, &addr, threads, token[0] ? token : NULL, &srv, err, sizeof(err));
        if (r < 0) {
                char a[INET_ADDRSTRLEN];
                fprintf(stderr, "lanternd: %s:%u: %s\n", inet_ntop(AF_INET, &addr.sin_addr, a, sizeof(a)),
                        ntohs(addr.sin_port), err);
                goto finish;
        }
        if (pid_file && (r = write_pid_file(pid_file)) < 0) {
                fprintf(stderr, "lanternd: --pid-file %s: %s\n", pid_file, strerror(-r));
                goto finish;
        }
        {
                char a[INET_ADDRSTRLEN];
                fprintf(stderr, "lanternd: listening on http://%s:%u/\n",
                        inet_ntop(AF_INET, &addr.sin_addr, a, sizeof(a)), verifier_server_port(srv));
        }
        do {
                if (sigwait(&mask, &sig) != 0)
                        break;
        } while (sig == SIGHUP);
        ret = 0;
finish:
        if (pid_file && srv)
                unlink(pid_file);
        verifier_server_stop(srv);
        verifier_store_free(svc.store);
        X509_STORE_free(svc.ek_roots);
        explicit_bzero(token, sizeof(token));
        return ret;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "installer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>


#include "authenticode.h"
#include "digest.h"
#include "efivars.h"
#include "fileio.h"
#include "loader-conf.h"
#include "pe-build.h"
#include "pe.h"
#include "pem.h"
#include "predict-cmdline.h"
#include "predict-filehash.h"
#include "predict-generation.h"
#include "predict-host.h"
#include "uki.h"

#define SYSTEMD_BOOT_ESP "EFI/systemd/systemd-bootx64.efi"
#define FALLBACK_ESP "EFI/BOOT/BOOTX64.EFI"
#define LOADER_CONF_ESP "loader/loader.conf"
#define KERNELS_DIR "EFI/nixos"
#define STUBS_DIR "EFI/Linux"
#define ID_HEX 32 /* hex digits of the stub id in its name */
#define MAX_ENTRIES 100000
#define MAX_ESP_FILES 100000
/* systemd-boot's loader interface vendor GUID (LoaderEntrySelected). */
#define LOADER_VENDOR "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"

typedef struct ctx {
        const install_options *o;
        predict_error *err;
        install_plan *p;
        predict_file_cache *cache;
        EVP_PKEY *key;
        X509 *cert;
        uint8_t *stub;
        size_t stub_size;
        uint8_t stub_digest[32], cert_digest[32];
} ctx;

/* ---- small helpers ---- */

static char *esp_path(const install_options *o, const char *rel) {
        return predict_path_join(o->esp, rel);
}

static int strv_push(char ***v, size_t *n, size_t *alloc, char *s) {
        if (!s)
                return -ENOMEM;
        if (*n == *alloc) {
                size_t na = *alloc ? *alloc * 2 : 16;
                char **nv = realloc(*v, na * sizeof(char *));
                if (!nv) {
                        free(s);
                        return -ENOMEM;
                }
                *v = nv;
                *alloc = na;
        }
        (*v)[(*n)++] = s;
        return 0;
}

static bool strv_contains(char **v, size_t n, const char *s) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

static int keep(install_plan *p, const char *rel) {
        if (strv_contains(p->keep, p->n_keep, rel))
                return 0;
        return strv_push(&p->keep, &p->n_keep, &p->n_keep_alloc, strdup(rel));
}

static int read_all(const char *path, size_t max, uint8_t **ret, size_t *ret_size) {
        struct stat st;
        int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                r = S_ISREG(st.st_mode) ? -errno : -EINVAL;
                close(fd);
                return r;
        }
        if ((uint64_t) st.st_size > max) {
                close(fd);
                return -EFBIG;
        }
        uint8_t *buf = malloc(st.st_size ? (size_t) st.st_size : 1);
        size_t n = 0;
        if (!buf) {
                close(fd);
                return -ENOMEM;
        }
        while (n < (size_t) st.st_size) {
                ssize_t k = read(fd, buf + n, (size_t) st.st_size - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        r = k < 0 ? -errno : -EIO;
                        free(buf);
                        close(fd);
                        return r;
                }
                n += (size_t) k;
        }
        close(fd);
        *ret = buf;
        *ret_size = n;
        return 0;
}

static int sha256_file(const char *path, uint64_t max, uint8_t ret[32], uint64_t *ret_size) {
        measure_hasher *h = NULL;
        uint8_t *buf = NULL;
        uint64_t total = 0;
        int fd = open(path, O_RDONLY | O_CLOEXEC), r;
        if (fd < 0)
                return -errno;
        r = measure_hasher_new(measure_alg_by_name("sha256"), &h);
        buf = malloc(1u << 20);
        if (r >= 0 && !buf)
                r = -ENOMEM;
        while (r >= 0) {
                ssize_t k = read(fd, buf, 1u << 20);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        r = -errno;
                        break;
                }
                if (k == 0)
                        break;
                total += (uint64_t) k;
                if (total > max)
                        r = -EFBIG;
                else
                        r = measure_hasher_update(h, buf, (size_t) k);
        }
        if (r >= 0)
                r = measure_hasher_final(h, ret);
        if (r >= 0 && ret_size)
                *ret_size = total;
        measure_hasher_free(h);
        free(buf);
        close(fd);
        return r;
}

/* Keeps [A-Za-z0-9._+-], replaces anything else by '_', at most max characters. */
static void sanitize(char *s, size_t max) {
        size_t i = 0;
        for (; s[i] && i < max; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '_' || c == '+' || c == '-'))
                        s[i] = '_';
        }
        s[i] = 0;
}

/* The version part of an ESP kernel/initrd name, from the store path: /nix/store/<hash>-linux-6.1.0/bzImage
 * and /nix/store/<hash>-initrd-linux-6.1.0/initrd both give "6.1.0". */
static char *version_of(const char *resolved) {
        const char *store = "/nix/store/", *name, *end;
        if (strncmp(resolved, store, strlen(store)) == 0) {
                name = resolved + strlen(store);
                end = strchr(name, '/');
                const char *dash = memchr(name, '-', end ? (size_t) (end - name) : strlen(name));
                if (dash)
                        name = dash + 1;
        } else {
                name = strrchr(resolved, '/');
                name = name ? name + 1 : resolved;
                end = NULL;
        }
        size_t len = end ? (size_t) (end - name) : strlen(name);
        char *v = strndup(name, len);
        if (!v)
                return NULL;
        char *l = strstr(v, "linux-");
        if (l && l[6])
                memmove(v, l + 6, strlen(l + 6) + 1);
        sanitize(v, 48);
        if (!v[0]) {
                free(v);
                return strdup("unknown");
        }
        return v;
}

/* ---- the stub on the ESP ---- */

/* A section's bytes from a PE file (exact name, first match), or -ENOENT. */
static int section_bytes(const measure_pe *pe, const uint8_t *data, const char *name, const uint8_t **ret,
                         size_t *ret_size) {
        int i = measure_pe_find_section(pe, name, MEASURE_PE_MATCH_EXACT_FIRST, 0, pe->n_sections);
        if (i < 0)
                return -ENOENT;
        const measure_pe_section *s = &pe->sections[i];
        uint32_t stored = measure_pe_section_stored(pe, s);
        if (stored < s->virtual_size)
                return -EBADMSG;
        *ret = data + measure_pe_section_offset(pe, s);
        *ret_size = s->virtual_size;
        return 0;
}

/* An ESP path as the stub carries it ("\EFI\nixos\kernel-....efi", maybe NUL-terminated) as an ESP-relative
 * path with slashes; refuses anything but printable ASCII and "..". */
static char *path_from_stub(const uint8_t *b, size_t n) {
        while (n > 0 && b[n - 1] == 0)
                n--;
        if (n < 2 || n > INSTALL_ESP_PATH_MAX || b[0] != '\\')
                return NULL;
        char *s = malloc(n);
        if (!s)
                return NULL;
        for (size_t i = 1; i < n; i++) {
                if (b[i] < 0x20 || b[i] > 0x7e || b[i] == '/') {
                        free(s);
                        return NULL;
                }
                s[i - 1] = b[i] == '\\' ? '/' : (char) b[i];
        }
        s[n - 1] = 0;
        if (strstr(s, "..") || s[0] == '/') {
                free(s);
                return NULL;
        }
        return s;
}

static char *path_to_stub(const char *rel) {
        size_t n = strlen(rel);
        char *s = malloc(n + 2);
        if (!s)
                return NULL;
        s[0] = '\\';
        for (size_t i = 0; i <= n; i++)
                s[i + 1] = rel[i] == '/' ? '\\' : rel[i];
        return s;
}

typedef struct stub_info {
        install_signature_state signature;
        char *kernel, *initrd;    /* ESP-relative */
        bool files_ok;
        bool lantern;             /* it is a lantern stub at all */
} stub_info;

static void stub_info_done(stub_info *s) {
        free(s->kernel);
        free(s->initrd);
        memset(s, 0, sizeof(*s));
}

/* Checks a file that reads as one of our payloads against the 32-byte SHA-256 in section hname. */
static bool payload_ok(const install_options *o, const measure_pe *pe, const uint8_t *data, const char *path_rel,
                       const char *hname, bool full) {
        const uint8_t *h;
        size_t hn;
        struct stat st;
        if (section_bytes(pe, data, hname, &h, &hn) < 0 || hn != 32)
                return false;
        char *host = esp_path(o, path_rel);
        if (!host)
                return false;
        bool ok = stat(host, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
        if (ok && full) {
                uint8_t d[32];
                ok = sha256_file(host, INSTALL_PAYLOAD_MAX, d, NULL) >= 0 && memcmp(d, h, 32) == 0;
        }
        free(host);
        return ok;
}

/* Reads an installed stub: its signature state against cert (when given), the files it names, and whether
 * they exist (full: and hash to .linuxh/.initrdh). -ENOENT when the file does not exist. */
static int stub_inspect(const install_options *o, X509 *cert, const char *rel, bool full, stub_info *ret) {
        stub_info si = { .signature = INSTALL_SIGNATURE_NONE };
        uint8_t *data = NULL;
        size_t size = 0;
        measure_pe *pe = NULL;
        const uint8_t *b;
        size_t n;
        char *host = esp_path(o, rel);
        int r;

        if (!host)
                return -ENOMEM;
        r = read_all(host, INSTALL_STUB_MAX, &data, &size);
        free(host);
        if (r == -EFBIG || r == -EINVAL) {
                si.signature = INSTALL_SIGNATURE_BAD; /* too large, or not a regular file */
                *ret = si;
                return 0;
        }
        if (r < 0)
                return r;
        pe = malloc(sizeof(*pe));
        if (!pe) {
                r = -ENOMEM;
                goto finish;
        }
        if (measure_pe_parse(data, size, MEASURE_PE_FILE, NULL, pe) < 0) {
                si.signature = INSTALL_SIGNATURE_BAD;
                goto done;
        }
        if (cert) {
                r = install_authenticode_check(data, size, cert, &si.signature);
                if (r < 0)
                        si.signature = INSTALL_SIGNATURE_BAD;
        }
        if (section_bytes(pe, data, ".linux", &b, &n) >= 0)
                si.kernel = path_from_stub(b, n);
        if (section_bytes(pe, data, ".initrd", &b, &n) >= 0)
                si.initrd = path_from_stub(b, n);
        si.lantern = si.kernel != NULL;
        si.files_ok = si.kernel && payload_ok(o, pe, data, si.kernel, MEASURE_UKI_LINUX_HASH_SECTION, full);
        if (section_bytes(pe, data, ".initrd", &b, &n) >= 0)
                si.files_ok = si.files_ok && si.initrd &&
                              payload_ok(o, pe, data, si.initrd, MEASURE_UKI_INITRD_HASH_SECTION, full);
done:
        *ret = si;
        memset(&si, 0, sizeof(si));
        r = 0;
finish:
        stub_info_done(&si);
        free(pe);
        free(data);
        return r;
}

/* ---- plan building ---- */

static int add_write(install_plan *p, const char *rel, char *source, uint8_t *data, uint64_t size, const char *why) {
        for (size_t i = 0; i < p->n_writes; i++)
                if (strcmp(p->writes[i].path, rel) == 0) {
                        free(source);
                        free(data);
                        return 0;
                }
        if (p->n_writes == p->n_writes_alloc) {
                size_t na = p->n_writes_alloc ? p->n_writes_alloc * 2 : 16;
                install_file *nw = realloc(p->writes, na * sizeof(*nw));
                if (!nw) {
                        free(source);
                        free(data);
                        return -ENOMEM;
                }
                p->writes = nw;
                p->n_writes_alloc = na;
        }
        char *path = strdup(rel);
        if (!path) {
                free(source);
                free(data);
                return -ENOMEM;
        }
        p->writes[p->n_writes++] = (install_file) { path, source, data, size, why };
        p->write_bytes += size;
        return keep(p, rel);
}

static install_entry *add_entry(install_plan *p) {
        if (p->n_entries == MAX_ENTRIES)
                return NULL;
        if (p->n_entries == p->n_entries_alloc) {
                size_t na = p->n_entries_alloc ? p->n_entries_alloc * 2 : 16;
                install_entry *ne = realloc(p->entries, na * sizeof(*ne));
                if (!ne)
                        return NULL;
                p->entries = ne;
                p->n_entries_alloc = na;
        }
        install_entry *e = &p->entries[p->n_entries++];
        memset(e, 0, sizeof(*e));
        return e;
}

/* Copies the initrd to a private temporary file and runs the generation's initrd-secrets script on it
 * (`<script> <file>` appends a cpio of the secrets), as NixOS's boot loader builders do. */
static int initrd_with_secrets(ctx *c, const char *initrd_host, const char *script, char **ret) {
        char *script_resolved = NULL, *script_host = NULL;
        int r, fd;

        r = predict_host_chase(c->o->root, script, c->err, &script_resolved);
        if (r < 0)
                return predict_error_prefix(c->err, r, "initrdSecrets");
        script_host = predict_host_path(c->o->root, script_resolved);
        free(script_resolved);
        if (!script_host)
                return -ENOMEM;
        const char *tmpdir = getenv("TMPDIR");
        char *path = NULL;
        if (asprintf(&path, "%s/lantern-initrd.XXXXXX", tmpdir && tmpdir[0] == '/' ? tmpdir : "/tmp") < 0) {
                free(script_host);
                return -ENOMEM;
        }
        fd = mkostemp(path, O_CLOEXEC);
        if (fd < 0) {
                r = predict_error_set(c->err, -errno, "cannot create a temporary initrd: %s", strerror(errno));
                goto finish;
        }
        close(fd);
        r = install_copy_file_atomic(initrd_host, path, INSTALL_PAYLOAD_MAX, 0600);
        if (r < 0) {
                predict_error_set(c->err, r, "%s: cannot copy: %s", initrd_host, strerror(-r));
                unlink(path);
                goto finish;
        }
        pid_t pid = fork();
        if (pid < 0) {
                r = predict_error_set(c->err, -errno, "cannot run %s: %s", script_host, strerror(errno));
                unlink(path);
                goto finish;
        }
        if (pid == 0) {
                execl(script_host, script_host, path, (char *) NULL);
                _exit(127);
        }
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                r = predict_error_set(c->err, -EIO, "%s %s failed (status %d)", script_host, path,
                                      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
                unlink(path);
                goto finish;
        }
        *ret = path;
        path = NULL;
        r = 0;
finish:
        free(path);
        free(script_host);
        return r;
}

/* Plans one payload (kernel or initrd): its content-addressed ESP name, and a copy when the ESP lacks it. */
static int plan_payload(ctx *c, const char *kind, const char *host, const char *resolved, bool temporary,
                        uint8_t ret_digest[32], char **ret_rel) {
        uint8_t d[32];
        uint64_t size;
        char hex[65], *version = NULL, *rel = NULL, *dst = NULL;
        int r;

        if (temporary)
                r = sha256_file(host, INSTALL_PAYLOAD_MAX, d, &size);
        else {
                const predict_file_digest *fd;
                r = predict_file_cache_get(c->cache, host, c->err, &fd);
                if (r < 0)
                        return predict_error_prefix(c->err, r, "%s", kind);
                memcpy(d, fd->digest[0], 32);
                size = fd->size;
        }
        if (r < 0)
                return predict_error_set(c->err, r, "%s %s: %s", kind, host, strerror(-r));
        if (size == 0)
                return predict_error_set(c->err, -EINVAL, "%s %s: empty file", kind, host);
        version = version_of(resolved);
        if (!version || asprintf(&rel, KERNELS_DIR "/%s-%s-%s.efi", kind, version, measure_hex(d, 32, hex)) < 0) {
                free(version);
                return -ENOMEM;
        }
        free(version);
        dst = esp_path(c->o, rel);
        if (!dst) {
                free(rel);
                return -ENOMEM;
        }
        uint8_t have[32];
        struct stat st;
        bool present = stat(dst, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t) st.st_size == size &&
                       sha256_file(dst, INSTALL_PAYLOAD_MAX, have, NULL) >= 0 && memcmp(have, d, 32) == 0;
        free(dst);
        if (present)
                r = keep(c->p, rel);
        else {
                char *src = strdup(host);
                r = src ? add_write(c->p, rel, src, NULL, size, "new") : -ENOMEM;
        }
        if (r < 0) {
                free(rel);
                return r;
        }
        memcpy(ret_digest, d, 32);
        *ret_rel = rel;
        return 0;
}

/* The stub id: a digest of everything the stub is built from except the payload bytes. */
static void entry_id(ctx *c, const char *profile, const predict_bootspec_v1 *v, const char *spec, const char *cmdline,
                     const char *osrel, const char *kernel, const char *initrd, char ret[ID_HEX + 1]) {
        measure_hasher *h = NULL;
        uint8_t d[32];
        char hex[65];
        const char *parts[] = { "lantern-install-1", profile, v->toplevel, spec ? spec : "", cmdline, osrel, kernel,
                                initrd ? initrd : "", v->initrd_secrets ? v->initrd_secrets : "" };
        if (measure_hasher_new(measure_alg_by_name("sha256"), &h) < 0) {
                memset(ret, '0', ID_HEX);
                ret[ID_HEX] = 0;
                return;
        }
        measure_hasher_update(h, c->stub_digest, 32);
        measure_hasher_update(h, c->cert_digest, 32);
        for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
                measure_hasher_update(h, parts[i], strlen(parts[i]) + 1);
        measure_hasher_final(h, d);
        measure_hasher_free(h);
        measure_hex(d, 32, hex);
        memcpy(ret, hex, ID_HEX);
        ret[ID_HEX] = 0;
}

/* Builds and signs the thin stub for one entry. */
static int build_stub(ctx *c, const char *cmdline, const char *osrel, const char *kernel_rel, const uint8_t *kd,
                      const char *initrd_rel, const uint8_t *idg, uint8_t **ret, size_t *ret_size) {
        char *kpath = path_to_stub(kernel_rel), *ipath = initrd_rel ? path_to_stub(initrd_rel) : NULL;
        uint8_t *unsigned_stub = NULL;
        size_t unsigned_size = 0;
        measure_pe_error pe_err = {};
        int r;

        if (!kpath || (initrd_rel && !ipath)) {
                r = -ENOMEM;
                goto finish;
        }
        install_pe_section secs[] = {
                { ".osrel", osrel, strlen(osrel) },
                { ".cmdline", cmdline, strlen(cmdline) },
                { ".linux", kpath, strlen(kpath) },
                { ".linuxh", kd, 32 },
                { ".initrd", ipath, ipath ? strlen(ipath) : 0 },
                { ".initrdh", idg, 32 },
        };
        r = install_pe_add_sections(c->stub, c->stub_size, secs, initrd_rel ? 6 : 4, &pe_err, &unsigned_stub,
                                    &unsigned_size);
        if (r < 0) {
                r = predict_error_set(c->err, r, "%s: offset %llu: cannot add sections: %s", c->o->stub,
                                      (unsigned long long) pe_err.offset, pe_err.what ? pe_err.what : strerror(-r));
                goto finish;
        }
        r = install_authenticode_sign(unsigned_stub, unsigned_size, c->key, c->cert, &pe_err, ret, ret_size);
        if (r < 0)
                r = predict_error_set(c->err, r, "cannot sign the stub for %s: %s", kernel_rel,
                                      pe_err.what ? pe_err.what : strerror(-r));
finish:
        free(unsigned_stub);
        free(kpath);
        free(ipath);
        return r;
}

static int plan_entry(ctx *c, const char *profile, unsigned long number, const predict_bootspec_v1 *v,
                      const char *spec) {
        char *cmdline = NULL, *osrel = NULL, *kres = NULL, *ires = NULL, *khost = NULL, *ihost = NULL, *tmp = NULL;
        char *krel = NULL, *irel = NULL, *spec_name = NULL, id[ID_HEX + 1], *stub_rel = NULL;
        uint8_t kd[32], idg[32], *signed_stub = NULL;
        size_t signed_size = 0;
        stub_info si = {};
        int r;

        install_entry *e = add_entry(c->p);
        if (!e)
                return -ENOMEM;
        e->profile = strdup(profile);
        e->generation = number;
        e->label = strdup(v->label);
        if (spec) {
                e->specialisation = strdup(spec);
                spec_name = strdup(spec);
                if (!e->specialisation || !spec_name) {
                        r = -ENOMEM;
                        goto finish;
                }
                sanitize(spec_name, 64);
        }
        if (!e->profile || !e->label) {
                r = -ENOMEM;
                goto finish;
        }
        r = predict_cmdline(v, &cmdline);
        if (r < 0)
                goto finish;
        r = predict_osrel_load(c->o->root, v, spec, number, c->err, &osrel);
        if (r < 0)
                goto finish;
        r = predict_host_chase(c->o->root, v->kernel, c->err, &kres);
        if (r < 0) {
                predict_error_prefix(c->err, r, "kernel");
                goto finish;
        }
        if (v->initrd) {
                r = predict_host_chase(c->o->root, v->initrd, c->err, &ires);
                if (r < 0) {
                        predict_error_prefix(c->err, r, "initrd");
                        goto finish;
                }
        }
        entry_id(c, profile, v, spec, cmdline, osrel, kres, ires, id);
        if (asprintf(&stub_rel, STUBS_DIR "/nixos%s%s-generation-%lu%s%s-%s.efi", strcmp(profile, "system") ? "-" : "",
                     strcmp(profile, "system") ? profile : "", number, spec_name ? "-specialisation-" : "",
                     spec_name ? spec_name : "", id) < 0) {
                r = -ENOMEM;
                stub_rel = NULL;
                goto finish;
        }
        e->stub = strdup(stub_rel);
        if (!e->stub) {
                r = -ENOMEM;
                goto finish;
        }

        /* Already installed, signed by this key, its files in place: nothing to do, nothing to read. */
        r = stub_inspect(c->o, c->cert, stub_rel, c->o->verify_payloads, &si);
        if (r < 0 && r != -ENOENT) {
                r = predict_error_set(c->err, r, "%s/%s: %s", c->o->esp, stub_rel, strerror(-r));
                goto finish;
        }
        e->present = r >= 0;
        e->signature = si.signature;
        e->files_ok = si.files_ok;
        if (r >= 0 && si.signature == INSTALL_SIGNATURE_VALID && si.files_ok && (si.initrd != NULL) == (ires != NULL)) {
                e->action = INSTALL_KEEP;
                e->kernel = si.kernel;
                e->initrd = si.initrd;
                si.kernel = si.initrd = NULL;
                r = keep(c->p, stub_rel);
                if (r >= 0)
                        r = keep(c->p, e->kernel);
                if (r >= 0 && e->initrd)
                        r = keep(c->p, e->initrd);
                goto finish;
        }

        e->action = INSTALL_WRITE;
        khost = predict_host_path(c->o->root, kres);
        if (!khost) {
                r = -ENOMEM;
                goto finish;
        }
        r = plan_payload(c, "kernel", khost, kres, false, kd, &krel);
        if (r < 0)
                goto finish;
        if (ires) {
                ihost = predict_host_path(c->o->root, ires);
                if (!ihost) {
                        r = -ENOMEM;
                        goto finish;
                }
                if (v->initrd_secrets) {
                        r = initrd_with_secrets(c, ihost, v->initrd_secrets, &tmp);
                        if (r < 0)
                                goto finish;
                        r = strv_push(&c->p->temps, &c->p->n_temps, &(size_t) { c->p->n_temps }, strdup(tmp));
                        if (r < 0) {
                                unlink(tmp);
                                goto finish;
                        }
                }
                r = plan_payload(c, "initrd", tmp ? tmp : ihost, ires, tmp != NULL, idg, &irel);
                if (r < 0)
                        goto finish;
        }
        r = build_stub(c, cmdline, osrel, krel, kd, irel, idg, &signed_stub, &signed_size);
        if (r < 0)
                goto finish;
        e->kernel = krel;
        e->initrd = irel;
        krel = irel = NULL;
        r = add_write(c->p, stub_rel, NULL, signed_stub, signed_size, e->present ? "not current" : "new");
        signed_stub = NULL;
finish:
        stub_info_done(&si);
        free(signed_stub);
        free(stub_rel);
        free(spec_name);
        free(cmdline);
        free(osrel);
        free(kres);
        free(ires);
        free(khost);
        free(ihost);
        free(tmp);
        free(krel);
        free(irel);
        return r;
}

static int load_signer(ctx *c) {
        int r;
        if (!c->o->key || !c->o->cert)
                return predict_error_set(c->err, -EINVAL, "no signing key: --keys DIR (DIR/db.key, DIR/db.crt)");
        r = install_pem_read_key(c->o->key, &c->key);
        if (r == -EBADMSG)
                return predict_error_set(c->err, -EINVAL, "%s: not a PEM private key (or encrypted)", c->o->key);
        if (r < 0)
                return predict_error_set(c->err, r, "%s: cannot open the signing key: %s", c->o->key, strerror(-r));
        r = install_pem_read_cert(c->o->cert, &c->cert);
        if (r == -EBADMSG)
                return predict_error_set(c->err, -EINVAL, "%s: not a PEM certificate", c->o->cert);
        if (r < 0)
                return predict_error_set(c->err, r, "%s: cannot open the certificate: %s", c->o->cert, strerror(-r));
        if (X509_check_private_key(c->cert, c->key) != 1)
                return predict_error_set(c->err, -EINVAL, "%s does not belong to the certificate %s", c->o->key,
                                         c->o->cert);
        unsigned char *der = NULL;
        int len = i2d_X509(c->cert, &der);
        if (len <= 0)
                return -ENOMEM;
        r = measure_hash(measure_alg_by_name("sha256"), der, (size_t) len, c->cert_digest);
        OPENSSL_free(der);
        return r;
}

static int load_stub(ctx *c) {
        measure_pe *pe;
        measure_pe_error pe_err = {};
        measure_uki_stub id;
        int r;

        r = read_all(c->o->stub, INSTALL_STUB_MAX, &c->stub, &c->stub_size);
        if (r < 0)
                return predict_error_set(c->err, r, "stub %s: %s", c->o->stub,
                                         r == -EFBIG ? "larger than 16 MiB, not a stub" : strerror(-r));
        if (c->stub_size < INSTALL_STUB_MIN)
                return predict_error_set(c->err, -EINVAL, "stub %s: %zu bytes, too small to be the stub", c->o->stub,
                                         c->stub_size);
        r = install_pe_parse_new(c->stub, c->stub_size, &pe_err, &pe);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return predict_error_set(c->err, r, "stub %s: offset %llu: %s", c->o->stub,
                                         (unsigned long long) pe_err.offset, pe_err.what);
        r = measure_uki_stub_identify(pe, c->stub, c->stub_size, &id);
        bool thin = measure_pe_find_section(pe, ".linux", MEASURE_PE_MATCH_EXACT_FIRST, 0, pe->n_sections) < 0;
        free(pe);
        if (r < 0 || id.kind != MEASURE_UKI_STUB_LANTERN)
                return predict_error_set(c->err, -EINVAL, "stub %s: no .sdmagic naming lantern-stub: not the Lantern stub",
                                         c->o->stub);
        if (!thin)
                return predict_error_set(c->err, -EINVAL, "stub %s: already has a .linux section", c->o->stub);
        return measure_hash(measure_alg_by_name("sha256"), c->stub, c->stub_size, c->stub_digest);
}

/* The version in a systemd-boot image's .sdmagic ("#### LoaderInfo: systemd-boot 252.39 ####"). */
static char *sdboot_version(const uint8_t *data, size_t size) {
        measure_pe *pe = malloc(sizeof(*pe));
        const uint8_t *b;
        size_t n;
        char *v = NULL;
        if (!pe)
                return NULL;
        if (measure_pe_parse(data, size, MEASURE_PE_FILE, NULL, pe) >= 0 &&
            section_bytes(pe, data, ".sdmagic", &b, &n) >= 0) {
                static const char tag[] = "LoaderInfo: systemd-boot ";
                char text[256];
                size_t k = n < sizeof(text) - 1 ? n : sizeof(text) - 1;
                memcpy(text, b, k);
                text[k] = 0;
                char *s = strstr(text, tag);
                if (s) {
                        s += strlen(tag);
                        v = strndup(s, strcspn(s, " #"));
                }
        }
        free(pe);
        return v;
}

static int plan_boot_loader(ctx *c) {
        uint8_t *src = NULL, *signed_img = NULL;
        size_t src_size = 0, signed_size = 0;
        char *src_version = NULL;
        measure_pe_error pe_err = {};
        const measure_alg *sha256 = measure_alg_by_name("sha256");
        uint8_t src_hash[1][MEASURE_DIGEST_MAX];
        measure_pe *pe = malloc(sizeof(*pe));
        int r;

        if (!pe)
                return -ENOMEM;
        r = read_all(c->o->systemd_boot, INSTALL_STUB_MAX, &src, &src_size);
        if (r < 0) {
                r = predict_error_set(c->err, r, "systemd-boot %s: %s", c->o->systemd_boot, strerror(-r));
                goto finish;
        }
        /* Signing pads the image to 8 bytes, and the padding is hashed: compare with the padded image. */
        if (src_size % 8) {
                uint8_t *padded = realloc(src, (src_size + 7) & ~(size_t) 7);
                if (!padded) {
                        r = -ENOMEM;
                        goto finish;
                }
                memset(padded + src_size, 0, ((src_size + 7) & ~(size_t) 7) - src_size);
                src = padded;
                src_size = (src_size + 7) & ~(size_t) 7;
        }
        r = measure_pe_parse(src, src_size, MEASURE_PE_FILE, &pe_err, pe);
        if (r >= 0)
                r = measure_authenticode_hash(pe, src, src_size, &sha256, 1, src_hash);
        if (r < 0) {
                r = predict_error_set(c->err, r, "systemd-boot %s: offset %llu: %s", c->o->systemd_boot,
                                      (unsigned long long) pe_err.offset, pe_err.what ? pe_err.what : strerror(-r));
                goto finish;
        }
        src_version = sdboot_version(src, src_size);
        for (int i = 0; i < 2; i++) {
                const char *rel = i == 0 ? SYSTEMD_BOOT_ESP : FALLBACK_ESP;
                char *host = esp_path(c->o, rel);
                uint8_t *have = NULL;
                size_t have_size = 0;
                const char *why = NULL;
                if (!host) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = read_all(host, INSTALL_STUB_MAX, &have, &have_size);
                free(host);
                if (r < 0)
                        why = "missing";
                else {
                        install_signature_state st = INSTALL_SIGNATURE_BAD;
                        uint8_t have_hash[1][MEASURE_DIGEST_MAX];
                        char *have_version = sdboot_version(have, have_size);
                        if (install_authenticode_check(have, have_size, c->cert, &st) < 0 || st != INSTALL_SIGNATURE_VALID)
                                why = st == INSTALL_SIGNATURE_NONE ? "unsigned" : "not signed by this key";
                        else if (measure_pe_parse(have, have_size, MEASURE_PE_FILE, NULL, pe) < 0 ||
                                 measure_authenticode_hash(pe, have, have_size, &sha256, 1, have_hash) < 0)
                                why = "unreadable";
                        else if (memcmp(have_hash[0], src_hash[0], 32) != 0 &&
                                 (!have_version || !src_version || strverscmp(src_version, have_version) >= 0))
                                why = "newer";
                        free(have_version);
                        free(have);
                }
                if (!why) {
                        r = keep(c->p, rel);
                        if (r < 0)
                                goto finish;
                        continue;
                }
                if (!signed_img) {
                        r = install_authenticode_sign(src, src_size, c->key, c->cert, &pe_err, &signed_img, &signed_size);
                        if (r < 0) {
                                r = predict_error_set(c->err, r, "cannot sign %s: %s", c->o->systemd_boot,
                                                      pe_err.what ? pe_err.what : strerror(-r));
                                goto finish;
                        }
                }
                uint8_t *copy = malloc(signed_size);
                if (!copy) {
                        r = -ENOMEM;
                        goto finish;
                }
                memcpy(copy, signed_img, signed_size);
                r = add_write(c->p, rel, NULL, copy, signed_size, why);
                if (r < 0)
                        goto finish;
        }
        r = 0;
finish:
        free(pe);
        free(src);
        free(signed_img);
        free(src_version);
        return r;
}

static int plan_loader_conf(ctx *c) {
        char *host = esp_path(c->o, LOADER_CONF_ESP), *text = NULL;
        uint8_t *old = NULL;
        size_t old_size = 0;
        int r;
        if (!host)
                return -ENOMEM;
        r = read_all(host, INSTALL_LOADER_CONF_MAX, &old, &old_size);
        free(host);
        if (r < 0 && r != -ENOENT)
                return predict_error_set(c->err, r, "%s/" LOADER_CONF_ESP ": %s", c->o->esp, strerror(-r));
        r = install_loader_conf_edit(r < 0 ? NULL : (const char *) old, old_size, c->p->default_entry, c->o->timeout, &text);
        if (r >= 0) {
                size_t len = strlen(text);
                if (old && len == old_size && memcmp(old, text, len) == 0) {
                        free(text);
                        r = keep(c->p, LOADER_CONF_ESP);
                } else
                        r = add_write(c->p, LOADER_CONF_ESP, NULL, (uint8_t *) text, len, old ? "default entry" : "new");
        }
        free(old);
        return r;
}

/* LoaderEntrySelected, the entry systemd-boot booted (UTF-16LE), as ASCII; NULL when unknown. */
static char *booted_entry(const install_options *o) {
        install_guid vendor;
        uint8_t *data = NULL;
        size_t len = 0;
        uint32_t attrs;
        char *s = NULL;
        if (install_guid_parse(LOADER_VENDOR, &vendor) < 0 ||
            install_efivar_read(o->efivars ? o->efivars : INSTALL_EFIVARS_DEFAULT, "LoaderEntrySelected", &vendor,
                                &attrs, &data, &len) < 0)
                return NULL;
        s = calloc(len / 2 + 1, 1);
        for (size_t i = 0; s && i + 1 < len; i += 2) {
                if (data[i] == 0 && data[i + 1] == 0)
                        break;
                if (data[i + 1] != 0 || data[i] < 0x20 || data[i] > 0x7e || data[i] == '/') {
                        free(s);
                        s = NULL;
                        break;
                }
                s[i / 2] = (char) data[i];
        }
        free(data);
        if (s && (!s[0] || strstr(s, ".."))) {
                free(s);
                s = NULL;
        }
        return s;
}

static int plan_gc(ctx *c) {
        static const char *const dirs[] = { KERNELS_DIR, STUBS_DIR };
        install_plan *p = c->p;
        int r;

        /* The booted entry and what it names stay, whatever the profiles say. */
        p->booted_entry = booted_entry(c->o);
        if (p->booted_entry) {
                char *rel = predict_path_join(STUBS_DIR, p->booted_entry);
                stub_info si = {};
                if (!rel)
                        return -ENOMEM;
                if (stub_inspect(c->o, NULL, rel, false, &si) >= 0) {
                        r = keep(p, rel);
                        if (r >= 0 && si.kernel)
                                r = keep(p, si.kernel);
                        if (r >= 0 && si.initrd)
                                r = keep(p, si.initrd);
                        if (r < 0) {
                                free(rel);
                                stub_info_done(&si);
                                return r;
                        }
                }
                stub_info_done(&si);
                free(rel);
        }
        for (size_t d = 0; d < 2; d++) {
                char *host = esp_path(c->o, dirs[d]);
                if (!host)
                        return -ENOMEM;
                DIR *dir = opendir(host);
                free(host);
                if (!dir)
                        continue;
                struct dirent *de;
                size_t seen = 0;
                while ((de = readdir(dir))) {
                        if (++seen > MAX_ESP_FILES)
                                break;
                        if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
                                continue;
                        if (d == 1 && strncmp(de->d_name, "nixos-", 6) != 0)
                                continue;
                        char *rel = predict_path_join(dirs[d], de->d_name);
                        if (!rel) {
                                closedir(dir);
                                return -ENOMEM;
                        }
                        if (strv_contains(p->keep, p->n_keep, rel)) {
                                free(rel);
                                continue;
                        }
                        char *full = esp_path(c->o, rel);
                        struct stat st;
                        bool regular = full && lstat(full, &st) == 0 && S_ISREG(st.st_mode);
                        free(full);
                        if (!regular) {
                                free(rel);
                                continue;
                        }
                        r = strv_push(&p->removals, &p->n_removals, &p->n_removals_alloc, rel);
                        if (r < 0) {
                                closedir(dir);
                                return r;
                        }
                }
                closedir(dir);
        }
        return 0;
}

static int check_space(ctx *c) {
        struct statvfs sv;
        uint64_t need = 0;
        for (size_t i = 0; i < c->p->n_writes; i++) {
                /* FAT allocates whole clusters; count one more per file. */
                need += c->p->writes[i].size + 65536;
        }
        if (c->p->n_writes == 0)
                return 0;
        if (statvfs(c->o->esp, &sv) < 0)
                return predict_error_set(c->err, -errno, "%s: %s", c->o->esp, strerror(errno));
        uint64_t avail = (uint64_t) sv.f_bavail * sv.f_frsize;
        if (need > avail)
                return predict_error_set(c->err, -ENOSPC,
                                         "%s: %llu bytes free, the install needs %llu: nothing was written", c->o->esp,
                                         (unsigned long long) avail, (unsigned long long) need);
        return 0;
}

int install_plan_make(const install_options *o, predict_error *err, install_plan **ret) {
        ctx c = { .o = o, .err = err };
        char **defaults = NULL;
        size_t n_defaults = 0;
        struct stat st;
        int r;

        if (!o->esp || stat(o->esp, &st) < 0 || !S_ISDIR(st.st_mode))
                return predict_error_set(err, -ENOTDIR, "ESP %s: not a directory", o->esp ? o->esp : "(none)");
        c.p = calloc(1, sizeof(*c.p));
        if (!c.p)
                return -ENOMEM;
        r = load_signer(&c);
        if (r >= 0)
                r = load_stub(&c);
        if (r < 0)
                goto finish;
        const measure_alg *sha256 = measure_alg_by_name("sha256");
        r = predict_file_cache_new(&sha256, 1, &c.cache);
        if (r < 0)
                goto finish;

        char **profiles = o->profiles;
        size_t n_profiles = o->n_profiles;
        if (n_profiles == 0) {
                r = predict_profiles_default(o->root, err, &defaults, &n_defaults);
                if (r < 0)
                        goto finish;
                profiles = defaults;
                n_profiles = n_defaults;
        }
        for (size_t i = 0; i < n_profiles; i++) {
                predict_generation *gens = NULL;
                size_t n = 0;
                r = predict_profile_load(o->root, profiles[i], err, &gens, &n);
                if (r < 0)
                        goto finish;
                size_t first = o->configuration_limit > 0 && n > o->configuration_limit ? n - o->configuration_limit : 0;
                for (size_t g = first; g < n && r >= 0; g++) {
                        const predict_bootspec *b = gens[g].bootspec;
                        for (size_t s = 0; s <= b->n_specialisations && r >= 0; s++) {
                                r = plan_entry(&c, gens[g].profile, gens[g].number,
                                               s == 0 ? &b->v1 : &b->specialisations[s - 1].v1,
                                               s == 0 ? NULL : b->specialisations[s - 1].name);
                                if (r < 0)
                                        predict_error_prefix(err, r, "profile %s generation %lu%s%s", gens[g].profile,
                                                             gens[g].number, s ? " specialisation " : "",
                                                             s ? b->specialisations[s - 1].name : "");
                        }
                }
                /* The default entry: the newest generation (not a specialisation) of the first profile. */
                if (r >= 0 && i == 0 && n > 0) {
                        for (size_t k = c.p->n_entries; k > 0; k--)
                                if (!c.p->entries[k - 1].specialisation) {
                                        const char *slash = strrchr(c.p->entries[k - 1].stub, '/');
                                        c.p->default_entry = strdup(slash + 1);
                                        if (!c.p->default_entry)
                                                r = -ENOMEM;
                                        break;
                                }
                }
                predict_generations_free(gens, n);
                if (r < 0)
                        goto finish;
        }
        if (!c.p->default_entry) {
                r = predict_error_set(err, -ENOENT, "no generation to install");
                goto finish;
        }
        r = plan_loader_conf(&c);
        if (r >= 0 && o->systemd_boot)
                r = plan_boot_loader(&c);
        if (r >= 0)
                r = plan_gc(&c);
        if (r >= 0)
                r = check_space(&c);
        if (r < 0)
                goto finish;
        *ret = c.p;
        c.p = NULL;
finish:
        if (r == -ENOMEM && err && !err->message[0])
                predict_error_set(err, r, "out of memory");
        predict_strv_free(defaults, n_defaults);
        predict_file_cache_free(c.cache);
        EVP_PKEY_free(c.key);
        X509_free(c.cert);
        free(c.stub);
        install_plan_free(c.p);
        return r;
}

static int fsync_dir_of(const char *path) {
        char *copy = strdup(path), *slash;
        if (!copy)
                return -ENOMEM;
        slash = strrchr(copy, '/');
        if (slash)
                *slash = 0;
        int fd = open(slash ? copy : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;
        free(copy);
        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0)
                r = -errno;
        close(fd);
        return r;
}

int install_plan_apply(const install_options *o, install_plan *p, predict_error *err) {
        unsigned step = 0;
        int r;

        for (size_t i = 0; i < p->n_writes; i++) {
                const install_file *f = &p->writes[i];
                char *dst = esp_path(o, f->path), *dir;
                if (!dst)
                        return -ENOMEM;
                dir = strdup(dst);
                if (!dir) {
                        free(dst);
                        return -ENOMEM;
                }
                *strrchr(dir, '/') = 0;
                r = install_mkdir_p(dir);
                free(dir);
                if (r >= 0)
                        r = f->source ? install_copy_file_atomic(f->source, dst, INSTALL_PAYLOAD_MAX, 0644)
                                      : install_write_file_atomic(dst, f->data, (size_t) f->size, 0644);
                free(dst);
                if (r < 0)
                        return predict_error_set(err, r, "%s/%s: cannot write: %s", o->esp, f->path, strerror(-r));
                if (o->after_step && (r = o->after_step(o->userdata, ++step, f->path)) < 0)
                        return predict_error_set(err, r, "stopped after writing %s", f->path);
        }
        for (size_t i = 0; i < p->n_removals; i++) {
                char *dst = esp_path(o, p->removals[i]);
                if (!dst)
                        return -ENOMEM;
                if (unlink(dst) < 0 && errno != ENOENT) {
                        r = -errno;
                        free(dst);
                        return predict_error_set(err, r, "%s/%s: cannot remove: %s", o->esp, p->removals[i], strerror(-r));
                }
                r = fsync_dir_of(dst);
                free(dst);
                if (r < 0)
                        return predict_error_set(err, r, "%s/%s: cannot sync its directory: %s", o->esp, p->removals[i],
                                                 strerror(-r));
                if (o->after_step && (r = o->after_step(o->userdata, ++step, p->removals[i])) < 0)
                        return predict_error_set(err, r, "stopped after removing %s", p->removals[i]);
        }
        return 0;
}

install_plan *install_plan_free(install_plan *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_entries; i++) {
                install_entry *e = &p->entries[i];
                free(e->profile);
                free(e->specialisation);
                free(e->label);
                free(e->stub);
                free(e->kernel);
                free(e->initrd);
        }
        free(p->entries);
        for (size_t i = 0; i < p->n_writes; i++) {
                free(p->writes[i].path);
                free(p->writes[i].source);
                free(p->writes[i].data);
        }
        free(p->writes);
        for (size_t i = 0; i < p->n_temps; i++)
                unlink(p->temps[i]);
        predict_strv_free(p->temps, p->n_temps);
        predict_strv_free(p->removals, p->n_removals);
        predict_strv_free(p->keep, p->n_keep);
        free(p->gc_skip_reason);
        free(p->default_entry);
        free(p->booted_entry);
        free(p);
        return NULL;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "verifier-store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

struct verifier_store {
        sqlite3 *db;
        pthread_mutex_t lock;
};

static const char schema[] =
        "PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=NORMAL;"
        "CREATE TABLE IF NOT EXISTS machines ("
        "  id TEXT PRIMARY KEY, ek_cert BLOB, ak_public BLOB, enrolled_at INTEGER,"
        "  golden TEXT, secret BLOB);"
        "CREATE TABLE IF NOT EXISTS enrollments ("
        "  id TEXT PRIMARY KEY, machine TEXT NOT NULL, ek_cert BLOB NOT NULL, ak_public BLOB NOT NULL,"
        "  cred_hash BLOB NOT NULL, expires INTEGER NOT NULL);"
        "CREATE TABLE IF NOT EXISTS nonces (nonce BLOB PRIMARY KEY, expires INTEGER NOT NULL);";

int verifier_store_open(const char *path, verifier_store **ret, char *errbuf, size_t errlen) {
        verifier_store *s;
        char *msg = NULL;
        int rc;

        if (!path || !ret)
                return -EINVAL;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        pthread_mutex_init(&s->lock, NULL);
        rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
        if (rc != SQLITE_OK) {
                snprintf(errbuf, errlen, "%s: %s", path, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
                verifier_store_free(s);
                return -EIO;
        }
        sqlite3_busy_timeout(s->db, 5000);
        rc = sqlite3_exec(s->db, schema, NULL, NULL, &msg);
        if (rc != SQLITE_OK) {
                snprintf(errbuf, errlen, "%s: %s", path, msg ? msg : sqlite3_errstr(rc));
                sqlite3_free(msg);
                verifier_store_free(s);
                return -EIO;
        }
        *ret = s;
        return 0;
}

verifier_store *verifier_store_free(verifier_store *s) {
        if (!s)
                return NULL;
        sqlite3_close_v2(s->db);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
}

/* Runs one statement with up to a few bound values; "b" blob, "t" text, "i" int64. Returns the number of
 * rows changed, or -EIO. */
typedef struct bind {
        char type;
        const void *p;
        size_t size;
        int64_t i;
} bind;

static int prepare(verifier_store *s, const char *sql, const bind *b, size_t n, sqlite3_stmt **ret) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
                return -EIO;
        for (size_t i = 0; i < n; i++) {
                int rc;
                switch (b[i].type) {
                case 'b':
                        rc = sqlite3_bind_blob(st, (int) i + 1, b[i].p, (int) b[i].size, SQLITE_STATIC);
                        break;
                case 't':
                        rc = sqlite3_bind_text(st, (int) i + 1, b[i].p, (int) b[i].size, SQLITE_STATIC);
                        break;
                default:
                        rc = sqlite3_bind_int64(st, (int) i + 1, b[i].i);
                }
                if (rc != SQLITE_OK) {
                        sqlite3_finalize(st);
                        return -EIO;
                }
        }
        *ret = st;
        return 0;
}

static int exec_locked(verifier_store *s, const char *sql, const bind *b, size_t n) {
        sqlite3_stmt *st;
        int r = prepare(s, sql, b, n, &st);
        if (r < 0)
                return r;
        r = sqlite3_step(st) == SQLITE_DONE ? sqlite3_changes(s->db) : -EIO;
        sqlite3_finalize(st);
        return r;
}

#define TEXT(s) { .type = 't', .p = (s), .size = strlen(s) }
#define BLOB(d, n) { .type = 'b', .p = (d), .size = (n) }
#define INT(v) { .type = 'i', .i = (v) }

int verifier_store_nonce_add(verifier_store *s, const uint8_t *nonce, size_t size, int64_t now, int64_t expires) {
        sqlite3_stmt *st;
        int r;

        pthread_mutex_lock(&s->lock);
        const bind purge[] = { INT(now) };
        exec_locked(s, "DELETE FROM nonces WHERE expires < ?", purge, 1);
        r = prepare(s, "SELECT count(*) FROM nonces", NULL, 0, &st);
        if (r >= 0) {
                r = sqlite3_step(st) == SQLITE_ROW ? (sqlite3_column_int64(st, 0) >= VERIFIER_MAX_NONCES ? -EBUSY : 0)
                                                    : -EIO;
                sqlite3_finalize(st);
        }
        if (r >= 0) {
                const bind b[] = { BLOB(nonce, size), INT(expires) };
                r = exec_locked(s, "INSERT INTO nonces (nonce, expires) VALUES (?, ?)", b, 2);
        }
        pthread_mutex_unlock(&s->lock);
        return r < 0 ? r : 0;
}

int verifier_store_nonce_take(verifier_store *s, const uint8_t *nonce, size_t size, int64_t now) {
        const bind b[] = { BLOB(nonce, size), INT(now) };
        int r;

        pthread_mutex_lock(&s->lock);
        r = exec_locked(s, "DELETE FROM nonces WHERE nonce = ? AND expires >= ?", b, 2);
        pthread_mutex_unlock(&s->lock);
        return r < 0 ? r : r == 1 ? 0 : -ENOENT;
}

int verifier_store_enrollment_add(verifier_store *s, const char *id, const char *machine, const uint8_t *ek_cert,
                                  size_t ek_size, const uint8_t *ak, size_t ak_size, const uint8_t cred_hash[32],
                                  int64_t now, int64_t expires) {
        const bind purge[] = { INT(now) };
        const bind b[] = { TEXT(id), TEXT(machine), BLOB(ek_cert, ek_size), BLOB(ak, ak_size), BLOB(cred_hash, 32),
                           INT(expires) };
        int r;

        pthread_mutex_lock(&s->lock);
        exec_locked(s, "DELETE FROM enrollments WHERE expires < ?", purge, 1);
        r = exec_locked(s, "INSERT INTO enrollments (id, machine, ek_cert, ak_public, cred_hash, expires) "
                           "VALUES (?, ?, ?, ?, ?, ?)", b, 6);
        pthread_mutex_unlock(&s->lock);
        return r < 0 ? r : 0;
}

static uint8_t *dup_blob(sqlite3_stmt *st, int col, size_t *ret_size) {
        const void *p = sqlite3_column_blob(st, col);
        int n = sqlite3_column_bytes(st, col);
        uint8_t *out;
        if (!p || n <= 0)
                return NULL;
        out = malloc((size_t) n + 1);
        if (!out)
                return NULL;
        memcpy(out, p, (size_t) n);
        out[n] = 0;
        *ret_size = (size_t) n;
        return out;
}

int verifier_store_enrollment_take(verifier_store *s, const char *id, int64_t now, verifier_enrollment *ret) {
        const bind b[] = { TEXT(id), INT(now) };
        verifier_enrollment e = {};
        sqlite3_stmt *st;
        int r;

        pthread_mutex_lock(&s->lock);
        r = prepare(s, "SELECT machine, ek_cert, ak_public, cred_hash FROM enrollments WHERE id = ? AND expires >= ?",
                    b, 2, &st);
        if (r >= 0) {
                int rc = sqlite3_step(st);
                if (rc == SQLITE_ROW) {
                        const unsigned char *m = sqlite3_column_text(st, 0);
                        snprintf(e.machine, sizeof(e.machine), "%s", m ? (const char *) m : "");
                        e.ek_cert = dup_blob(st, 1, &e.ek_cert_size);
                        e.ak = dup_blob(st, 2, &e.ak_size);
                        if (sqlite3_column_bytes(st, 3) == 32)
                                memcpy(e.cred_hash, sqlite3_column_blob(st, 3), 32);
                        r = e.ek_cert && e.ak ? 0 : -ENOMEM;
                } else
                        r = rc == SQLITE_DONE ? -ENOENT : -EIO;
                sqlite3_finalize(st);
        }
        /* Single use: a wrong credential spends the enrollment too. */
        const bind del[] = { TEXT(id) };
        exec_locked(s, "DELETE FROM enrollments WHERE id = ?", del, 1);
        pthread_mutex_unlock(&s->lock);
        if (r < 0) {
                verifier_enrollment_done(&e);
                return r;
        }
        *ret = e;
        return 0;
}

void verifier_enrollment_done(verifier_enrollment *e) {
        if (!e)
                return;
        free(e->ek_cert);
        free(e->ak);
        e->ek_cert = e->ak = NULL;
}

int verifier_store_machine_enroll(verifier_store *s, const char *machine, const uint8_t *ek_cert, size_t ek_size,
                                  const uint8_t *ak, size_t ak_size, int64_t now) {
        const bind b[] = { TEXT(machine), BLOB(ek_cert, ek_size), BLOB(ak, ak_size), INT(now) };
        int r;

        pthread_mutex_lock(&s->lock);
        r = exec_locked(s, "INSERT INTO machines (id, ek_cert, ak_public, enrolled_at) VALUES (?, ?, ?, ?) "
                           "ON CONFLICT(id) DO UPDATE SET ek_cert = excluded.ek_cert, ak_public = excluded.ak_public, "
                           "enrolled_at = excluded.enrolled_at", b, 4);
        pthread_mutex_unlock(&s->lock);
        return r < 0 ? r : 0;
}

int verifier_store_machine_set_golden(verifier_store *s, const char *machine, const char *json, size_t size) {
        const bind b[] = { TEXT(machine), { .type = 't', .p = json, .size = size } };
        int r;

        pthread_mutex_lock(&s->lock);
        r = exec_locked(s, "INSERT INTO machines (id, golden) VALUES (?, ?) "
                           "ON CONFLICT(id) DO UPDATE SET golden = excluded.golden", b, 2);
        pthread_mutex_unlock(&s->lock);
        return r < 0 ? r : 0;
}

int verifier_store_machine_set_secret(verifier_store *s, const char *machine, const uint8_t *secret, size_t size) {
        const bind b[] = { TEXT(machine), BLOB(secret, size) };
        int r;

        pthread_mutex_lock(&s->lock);
        r = exec_locked(s, "INSERT INTO machines (id, secret) VALUES (?, ?) "
                           "ON CONFLICT(id) DO UPDATE SET secret = excluded.secret", b, 2);
        pthread_mutex_unlock(&s->lock);
        return r < 0 ? r : 0;
}

int verifier_store_machine_get(verifier_store *s, const char *machine, verifier_machine *ret) {
        const bind b[] = { TEXT(machine) };
        verifier_machine m = {};
        sqlite3_stmt *st;
        int r;

        pthread_mutex_lock(&s->lock);
        r = prepare(s, "SELECT ak_public, golden, secret FROM machines WHERE id = ?", b, 1, &st);
        if (r >= 0) {
                int rc = sqlite3_step(st);
                if (rc == SQLITE_ROW) {
                        m.ak = dup_blob(st, 0, &m.ak_size);
                        m.enrolled = m.ak != NULL;
                        if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
                                const unsigned char *t = sqlite3_column_text(st, 1);
                                int n = sqlite3_column_bytes(st, 1);
                                m.golden = t ? malloc((size_t) n + 1) : NULL;
                                if (m.golden) {
                                        memcpy(m.golden, t, (size_t) n);
                                        m.golden[n] = '\0';
                                        m.golden_size = (size_t) n;
                                }
                        }
                        m.secret = dup_blob(st, 2, &m.secret_size);
                        r = 0;
                } else
                        r = rc == SQLITE_DONE ? -ENOENT : -EIO;
                sqlite3_finalize(st);
        }
        pthread_mutex_unlock(&s->lock);
        if (r < 0) {
                verifier_machine_done(&m);
                return r;
        }
        *ret = m;
        return 0;
}

void verifier_machine_done(verifier_machine *m) {
        if (!m)
                return;
        free(m->ak);
        free(m->golden);
        if (m->secret)
                OPENSSL_cleanse(m->secret, m->secret_size);
        free(m->secret);
        *m = (verifier_machine) {};
}

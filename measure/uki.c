/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The UKI measurement plan (see uki.h). The plan-building half is freestanding (memcmp/memcpy/memset only);
 * the folding half is hosted and compiled out of freestanding builds. */

#include "uki.h"

#if __STDC_HOSTED__
#  include <errno.h>
#  include <string.h>
#else
#  define ENOENT 2
#  define EINVAL 22
#  define EBADMSG 74
#  define ENXIO 6
#  define EPROTONOSUPPORT 93
int memcmp(const void *a, const void *b, size_t n);
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memset(void *dst, int c, size_t n);
#endif

#define SDMAGIC_SECTION ".sdmagic"
#define SDMAGIC_PREFIX "#### LoaderInfo: "
#define SDMAGIC_SUFFIX " ####"
#define SYSTEMD_STUB "systemd-stub "
#define LANTERN_STUB "lantern-stub "
#define PROFILE_SECTION ".profile"

static bool has_prefix(const char *s, size_t n, const char *prefix, size_t plen) {
        return n >= plen && memcmp(s, prefix, plen) == 0;
}

int measure_uki_stub_identify(const measure_pe *pe, const void *data, size_t size, measure_uki_stub *ret) {
        measure_uki_stub stub = {
                .kind = MEASURE_UKI_STUB_UNKNOWN,
                .rules = MEASURE_UKI_DEFAULT_RULES,
                .match = MEASURE_PE_MATCH_PREFIX_LAST,
        };
        const char *text;
        size_t len = 0, ident_len;
        int idx;

        if (!pe || !ret || pe->size != size || (!data && size > 0))
                return -EINVAL;

        idx = measure_pe_find_section(pe, SDMAGIC_SECTION, MEASURE_PE_MATCH_EXACT_FIRST, 0, pe->n_sections);
        if (idx < 0)
                goto done;
        /* pe_parse checked that the stored part of every section lies inside the buffer. */
        text = (const char *) data + measure_pe_section_offset(pe, &pe->sections[idx]);
        while (len < measure_pe_section_stored(pe, &pe->sections[idx]) && text[len] != 0)
                len++;
        if (!has_prefix(text, len, SDMAGIC_PREFIX, sizeof(SDMAGIC_PREFIX) - 1))
                goto done;
        text += sizeof(SDMAGIC_PREFIX) - 1;
        len -= sizeof(SDMAGIC_PREFIX) - 1;
        for (ident_len = 0; ident_len < len; ident_len++)
                if (has_prefix(text + ident_len, len - ident_len, SDMAGIC_SUFFIX, sizeof(SDMAGIC_SUFFIX) - 1))
                        break;
        if (ident_len >= sizeof(stub.ident))
                ident_len = sizeof(stub.ident) - 1;
        memcpy(stub.ident, text, ident_len);
        stub.ident[ident_len] = 0;

        if (has_prefix(text, ident_len, SYSTEMD_STUB, sizeof(SYSTEMD_STUB) - 1)) {
                unsigned v = 0;
                size_t i = sizeof(SYSTEMD_STUB) - 1, digits = 0;
                for (; i < ident_len && text[i] >= '0' && text[i] <= '9' && digits < 6; i++, digits++)
                        v = v * 10 + (unsigned) (text[i] - '0');
                if (digits == 0)
                        goto done;
                stub.kind = MEASURE_UKI_STUB_SYSTEMD;
                stub.version = v;
                stub.rules = v;
                /* systemd-stub 257 and later match exact names, first match wins (see pe.h). */
                stub.match = v <= 256 ? MEASURE_PE_MATCH_PREFIX_LAST : MEASURE_PE_MATCH_EXACT_FIRST;
        } else if (has_prefix(text, ident_len, LANTERN_STUB, sizeof(LANTERN_STUB) - 1)) {
                stub.kind = MEASURE_UKI_STUB_LANTERN;
                stub.rules = MEASURE_UKI_LANTERN_RULES;
                /* Exact names: the lantern stub also carries .linuxh/.initrdh, which a prefix match would take
                 * for .linux/.initrd. */
                stub.match = MEASURE_PE_MATCH_EXACT_FIRST;
        }
done:
        memcpy(ret, &stub, sizeof(stub));
        return 0;
}

bool measure_uki_stub_measures(const measure_uki_stub *stub, measure_uki_section s) {
        if ((unsigned) s >= MEASURE_UKI_SECTION_MAX || s == MEASURE_UKI_PCRSIG)
                return false;
        if (stub->kind == MEASURE_UKI_STUB_LANTERN && s == MEASURE_UKI_SBAT)
                return false;
        return measure_uki_sections[s].since <= stub->rules;
}

/* Finds section s the way the stub does. Multi-profile UKIs (257+): sections before the first .profile are
 * the base, and the default profile (number 0, from the first .profile up to the next) overrides them. */
static int find_section(const measure_pe *pe, const measure_uki_stub *stub, measure_uki_section s) {
        const char *name = measure_uki_sections[s].name;
        size_t n = pe->n_sections;

        if (stub->rules >= 257) {
                int first = measure_pe_find_section(pe, PROFILE_SECTION, MEASURE_PE_MATCH_EXACT_FIRST, 0, n);
                if (first >= 0) {
                        int next = measure_pe_find_section(pe, PROFILE_SECTION, MEASURE_PE_MATCH_EXACT_FIRST,
                                                           (size_t) first + 1, n);
                        size_t end = next >= 0 ? (size_t) next : n;
                        int idx = measure_pe_find_section(pe, name, stub->match, (size_t) first, end);
                        if (idx >= 0)
                                return idx;
                        n = (size_t) first;
                }
        }
        return measure_pe_find_section(pe, name, stub->match, 0, n);
}

static const char *thin_hash_section(const measure_uki_stub *stub, measure_uki_section s) {
        if (stub->kind != MEASURE_UKI_STUB_LANTERN)
                return NULL;
        return s == MEASURE_UKI_LINUX ? MEASURE_UKI_LINUX_HASH_SECTION :
               s == MEASURE_UKI_INITRD ? MEASURE_UKI_INITRD_HASH_SECTION : NULL;
}

/* The path a thin-layout section holds: trailing NULs (and zero fill) dropped, then 1 to 1024 printable
 * ASCII bytes, the rule the lantern stub applies. Returns its length or -EBADMSG. */
static int thin_path_length(const measure_uki_measurement *m, const uint8_t *data) {
        size_t n = m->length;
        while (n > 0 && data[m->offset + n - 1] == 0)
                n--;
        if (n == 0 || n > MEASURE_UKI_THIN_PATH_MAX)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++)
                if (data[m->offset + i] < 0x20 || data[m->offset + i] > 0x7e)
                        return -EBADMSG;
        return (int) n;
}

/* Lantern thin layout: a hash section next to .linux/.initrd makes that section an ESP path. */
static int plan_thin(const measure_pe *pe, const void *data, const measure_uki_stub *stub, measure_uki_measurement *m,
                     measure_pe_error *error) {
        const char *hash_name = thin_hash_section(stub, m->section);
        int h;

        if (!hash_name)
                return 0;
        h = measure_pe_find_section(pe, hash_name, stub->match, 0, pe->n_sections);
        if (h < 0)
                return 0;
        if (pe->sections[h].virtual_size != MEASURE_UKI_THIN_HASH_SIZE ||
            measure_pe_section_stored(pe, &pe->sections[h]) != MEASURE_UKI_THIN_HASH_SIZE) {
                if (error) {
                        error->offset = pe->section_table_offset + 40 * (uint64_t) h + 8;
                        error->what = "thin-layout hash section is not 32 bytes of SHA-256";
                }
                return -EBADMSG;
        }
        if (thin_path_length(m, data) < 0) {
                if (error) {
                        error->offset = m->offset;
                        error->what = "thin-layout section is not an ESP path of 1 to 1024 printable ASCII bytes";
                }
                return -EBADMSG;
        }
        m->external = true;
        m->hash_pe_index = (uint16_t) h;
        m->zero_fill = 0; /* the file is measured, not the section */
        return 0;
}

int measure_uki_thin_file(const measure_pe *pe, const void *data, size_t size, const measure_uki_measurement *m,
                          char *ret_path, const uint8_t **ret_sha256) {
        const measure_pe_section *h;
        int n;

        if (!pe || !data || !m || !ret_path || !m->external || m->hash_pe_index >= pe->n_sections ||
            pe->size != size || m->offset > size || m->length > size - m->offset)
                return -EINVAL;
        h = &pe->sections[m->hash_pe_index];
        if (measure_pe_section_stored(pe, h) != MEASURE_UKI_THIN_HASH_SIZE)
                return -EINVAL;
        n = thin_path_length(m, data);
        if (n < 0)
                return -EINVAL;
        memcpy(ret_path, (const uint8_t *) data + m->offset, (size_t) n);
        ret_path[n] = 0;
        if (ret_sha256)
                *ret_sha256 = (const uint8_t *) data + measure_pe_section_offset(pe, h);
        return 0;
}

int measure_uki_plan_build(const measure_pe *pe, const void *data, size_t size, measure_pe_error *error,
                           measure_uki_plan *ret) {
        measure_uki_plan plan;
        int r;

        if (!pe || !ret || pe->size != size || (!data && size > 0)) {
                if (error) {
                        error->offset = 0;
                        error->what = "invalid arguments";
                }
                return -EINVAL;
        }

        memset(&plan, 0, sizeof(plan));
        r = measure_uki_stub_identify(pe, data, size, &plan.stub);
        if (r < 0)
                return r;
        if (plan.stub.rules < MEASURE_UKI_MIN_RULES) {
                if (error) {
                        error->offset = 0;
                        error->what = "systemd-stub older than 252 measures nothing into PCR 11";
                }
                return -EPROTONOSUPPORT;
        }

        for (unsigned s = 0; s < MEASURE_UKI_SECTION_MAX; s++) {
                if (!measure_uki_stub_measures(&plan.stub, (measure_uki_section) s))
                        continue;
                int idx = find_section(pe, &plan.stub, (measure_uki_section) s);
                if (idx < 0)
                        continue;
                const measure_pe_section *sect = &pe->sections[idx];
                if (sect->virtual_size == 0)
                        continue; /* the stub skips empty sections */
                if (s == MEASURE_UKI_DTBAUTO) {
                        /* The stub picks one .dtbauto by the machine's devicetree or CHIDs. */
                        plan.hardware_dependent = true;
                        continue;
                }
                if ((uint64_t) sect->virtual_address + sect->virtual_size > pe->size_of_image) {
                        if (error) {
                                error->offset = pe->section_table_offset + 40 * (uint64_t) idx + 8;
                                error->what = "measured section extends past SizeOfImage";
                        }
                        return -EBADMSG;
                }
                measure_uki_measurement *m = &plan.m[plan.n++];
                m->section = (measure_uki_section) s;
                m->pe_index = (uint16_t) idx;
                m->offset = measure_pe_section_offset(pe, sect);
                m->length = measure_pe_section_stored(pe, sect);
                m->zero_fill = sect->virtual_size - m->length;
                r = plan_thin(pe, data, &plan.stub, m, error);
                if (r < 0)
                        return r;
        }

        memcpy(ret, &plan, sizeof(plan));
        return 0;
}

#if !defined(MEASURE_FREESTANDING) && __STDC_HOSTED__

#include "pcr.h"

#define MAX_BANKS 8

static const uint8_t zeros[4096];

/* Feeds the measurement's bytes (stored, then zero-fill; or the external file) to every hasher. */
static int feed_measurement(measure_hasher *const *h, size_t n, const measure_uki_measurement *m, const uint8_t *data,
                            const measure_uki_external *ext) {
        int r;
        if (m->external) {
                for (size_t i = 0; i < n; i++) {
                        r = measure_hasher_update(h[i], ext->data, ext->size);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        for (size_t i = 0; i < n; i++) {
                r = measure_hasher_update(h[i], data + m->offset, m->length);
                if (r < 0)
                        return r;
        }
        for (uint64_t left = m->zero_fill; left > 0;) {
                size_t chunk = left < sizeof(zeros) ? (size_t) left : sizeof(zeros);
                for (size_t i = 0; i < n; i++) {
                        r = measure_hasher_update(h[i], zeros, chunk);
                        if (r < 0)
                                return r;
                }
                left -= chunk;
        }
        return 0;
}

static bool measurement_fits(const measure_uki_measurement *m, size_t size) {
        return m->offset <= size && m->length <= size - m->offset;
}

static bool external_ok(const measure_uki_measurement *m, const measure_uki_external *ext) {
        return !m->external || (ext && (ext->data || ext->size == 0));
}

int measure_uki_measurement_digests(const measure_uki_measurement *m, const void *data, size_t size,
                                    const measure_uki_external *ext, const measure_alg *alg,
                                    uint8_t *ret_name_digest, uint8_t *ret_data_digest) {
        uint8_t name_digest[MEASURE_DIGEST_MAX], data_digest[MEASURE_DIGEST_MAX];
        measure_hasher *h = NULL;
        const char *name;
        size_t len = 0;
        int r;

        if (!m || !alg || (unsigned) m->section >= MEASURE_UKI_SECTION_MAX || !measurement_fits(m, size) ||
            (!data && size > 0))
                return -EINVAL;
        if (!external_ok(m, ext))
                return -ENXIO;
        name = measure_uki_sections[m->section].name;
        while (name[len])
                len++;
        r = measure_hash(alg, name, len + 1, name_digest); /* the name with its NUL, as the stub measures it */
        if (r < 0)
                return r;
        r = measure_hasher_new(alg, &h);
        if (r < 0)
                return r;
        r = feed_measurement(&h, 1, m, data, ext);
        if (r >= 0)
                r = measure_hasher_final(h, data_digest);
        measure_hasher_free(h);
        if (r < 0)
                return r;
        if (ret_name_digest)
                memcpy(ret_name_digest, name_digest, alg->size);
        if (ret_data_digest)
                memcpy(ret_data_digest, data_digest, alg->size);
        return 0;
}

int measure_uki_plan_fold(const measure_uki_plan *plan, const void *data, size_t size,
                          const measure_uki_external *ext, const measure_alg *const *algs, size_t n_algs,
                          uint8_t (*ret_values)[MEASURE_DIGEST_MAX]) {
        measure_hasher *h[MAX_BANKS] = {};
        measure_bank banks[MAX_BANKS];
        uint8_t d[MEASURE_DIGEST_MAX];
        size_t n_h = 0;
        int r = 0;

        if (!plan || !algs || !ret_values || n_algs == 0 || n_algs > MAX_BANKS || (!data && size > 0))
                return -EINVAL;
        for (size_t k = 0; k < plan->n; k++)
                if ((unsigned) plan->m[k].section >= MEASURE_UKI_SECTION_MAX || !measurement_fits(&plan->m[k], size))
                        return -EINVAL;
                else if (!external_ok(&plan->m[k], ext ? &ext[k] : NULL))
                        return -ENXIO;

        for (; n_h < n_algs; n_h++) {
                r = measure_hasher_new(algs[n_h], &h[n_h]);
                if (r < 0)
                        goto finish;
                measure_bank_init(&banks[n_h], algs[n_h], 0);
        }

        for (size_t k = 0; k < plan->n; k++) {
                const measure_uki_measurement *m = &plan->m[k];
                const char *name = measure_uki_sections[m->section].name;

                /* Extend 1: the section name with its NUL. */
                for (size_t i = 0; i < n_h; i++) {
                        r = measure_bank_extend_data(&banks[i], MEASURE_PCR_KERNEL_IMAGE, name, strlen(name) + 1);
                        if (r < 0)
                                goto finish;
                }
                /* Extend 2: the section's bytes, read once for every bank. */
                r = feed_measurement(h, n_h, m, data, ext ? &ext[k] : NULL);
                if (r < 0)
                        goto finish;
                for (size_t i = 0; i < n_h; i++) {
                        r = measure_hasher_final(h[i], d);
                        if (r >= 0)
                                r = measure_bank_extend(&banks[i], MEASURE_PCR_KERNEL_IMAGE, d);
                        if (r < 0)
                                goto finish;
                }
        }

        for (size_t i = 0; i < n_algs; i++)
                memcpy(ret_values[i], banks[i].pcr[MEASURE_PCR_KERNEL_IMAGE], algs[i]->size);
        r = 0;
finish:
        for (size_t i = 0; i < n_h; i++)
                measure_hasher_free(h[i]);
        return r;
}

#endif

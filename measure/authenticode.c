/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Authenticode image hash, by the rules of "Calculating the PE Image Hash":
 *   1. the headers up to SizeOfHeaders, minus the CheckSum field and the certificate-table directory entry;
 *   2. every section's raw data, in ascending PointerToRawData order;
 *   3. the file beyond SizeOfHeaders + the sum of SizeOfRawData, minus the certificate table at its end.
 * Signing adds only what 1 and 3 leave out, so it does not change the hash. */

#include "authenticode.h"

#include <errno.h>
#include <string.h>

typedef struct multi_hasher {
        measure_hasher *h[MEASURE_AUTHENTICODE_MAX_BANKS];
        size_t n;
        int r;
} multi_hasher;

static void feed(multi_hasher *m, const uint8_t *data, uint64_t from, uint64_t to) {
        if (m->r < 0 || to <= from)
                return;
        for (size_t i = 0; i < m->n && m->r >= 0; i++)
                m->r = measure_hasher_update(m->h[i], data + from, (size_t) (to - from));
}

int measure_authenticode_hash(const measure_pe *pe, const void *data, size_t size, const measure_alg *const *algs,
                              size_t n_algs, uint8_t (*ret_digests)[MEASURE_DIGEST_MAX]) {
        const uint8_t *p = data;
        multi_hasher m = {};
        uint8_t out[MEASURE_AUTHENTICODE_MAX_BANKS][MEASURE_DIGEST_MAX];
        uint16_t order[MEASURE_PE_MAX_SECTIONS];
        size_t n_order = 0;
        uint64_t pos, hashed;
        uint32_t cert_offset, cert_size;
        int r;

        if (!pe || !data || !algs || !ret_digests || n_algs == 0 || n_algs > MEASURE_AUTHENTICODE_MAX_BANKS ||
            pe->layout != MEASURE_PE_FILE || pe->size != size)
                return -EINVAL;

        for (size_t i = 0; i < n_algs; i++) {
                r = measure_hasher_new(algs[i], &m.h[i]);
                if (r < 0)
                        goto finish;
                m.n++;
        }

        /* 1. Headers, skipping CheckSum and (when the directory has one) the certificate-table entry. */
        feed(&m, p, 0, pe->checksum_offset);
        pos = pe->checksum_offset + 4;
        if (pe->n_data_dirs > MEASURE_PE_DIR_SECURITY) {
                uint64_t entry = pe->data_dirs_offset + 8 * MEASURE_PE_DIR_SECURITY;
                feed(&m, p, pos, entry);
                pos = entry + 8;
        }
        feed(&m, p, pos, pe->size_of_headers);
        hashed = pe->size_of_headers;

        /* 2. Sections by file offset (insertion sort; at most 96 of them, stable for equal offsets). */
        for (size_t i = 0; i < pe->n_sections; i++) {
                if (pe->sections[i].size_of_raw_data == 0)
                        continue;
                size_t j = n_order;
                while (j > 0 && pe->sections[order[j - 1]].pointer_to_raw_data > pe->sections[i].pointer_to_raw_data) {
                        order[j] = order[j - 1];
                        j--;
                }
                order[j] = (uint16_t) i;
                n_order++;
        }
        for (size_t k = 0; k < n_order; k++) {
                const measure_pe_section *s = &pe->sections[order[k]];
                feed(&m, p, s->pointer_to_raw_data, (uint64_t) s->pointer_to_raw_data + s->size_of_raw_data);
                hashed += s->size_of_raw_data;
        }

        /* 3. Trailing data, without the certificate table. */
        measure_pe_cert_table(pe, &cert_offset, &cert_size);
        if (size > hashed) {
                if (size - hashed < cert_size) {
                        r = -EBADMSG;
                        goto finish;
                }
                feed(&m, p, hashed, size - cert_size);
        }
        if (m.r < 0) {
                r = m.r;
                goto finish;
        }

        for (size_t i = 0; i < m.n; i++) {
                r = measure_hasher_final(m.h[i], out[i]);
                if (r < 0)
                        goto finish;
        }
        for (size_t i = 0; i < m.n; i++)
                memcpy(ret_digests[i], out[i], algs[i]->size);
        r = 0;
finish:
        for (size_t i = 0; i < m.n; i++)
                measure_hasher_free(m.h[i]);
        return r;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "predict-firmware.h"

#include <errno.h>
#include <string.h>

#include "eventdata.h"
#include "eventlog.h"
#include "pcr.h"

static const char *field_text(const measure_eventdata *d, const char *key) {
        for (size_t i = 0; d && i < d->n_fields; i++)
                if (strcmp(d->fields[i].key, key) == 0 && d->fields[i].kind != MEASURE_FIELD_UINT)
                        return d->fields[i].text;
        return NULL;
}

static const measure_field *field(const measure_eventdata *d, const char *key) {
        for (size_t i = 0; d && i < d->n_fields; i++)
                if (strcmp(d->fields[i].key, key) == 0)
                        return &d->fields[i];
        return NULL;
}

int predict_firmware_from_log(const uint8_t *data, size_t size, const char *origin, const measure_alg *const *banks,
                              size_t n_banks, predict_error *err, predict_firmware *ret) {
        predict_firmware fw = { .n_banks = n_banks };
        measure_eventlog log;
        measure_eventlog_error lerr = {};
        measure_eventlog_iter it;
        measure_event ev;
        measure_bank bank[PREDICT_MAX_BANKS];
        bool found = false;
        int r;

        if (n_banks == 0 || n_banks > PREDICT_MAX_BANKS)
                return -EINVAL;
        r = measure_eventlog_open(data, size, &log, &lerr);
        if (r < 0)
                return predict_error_set(err, r, "%s: event %zu at offset 0x%zx: %s", origin, lerr.index, lerr.offset,
                                         lerr.message);
        for (size_t b = 0; b < n_banks; b++)
                measure_bank_init(&bank[b], banks[b], 0);

        measure_eventlog_iter_init(&it, &log);
        while ((r = measure_eventlog_next(&it, &ev, &lerr)) > 0) {
                if (ev.header || ev.type == MEASURE_EV_NO_ACTION)
                        continue;
                if (ev.pcr == MEASURE_PCR_SECURE_BOOT_POLICY && ev.type == MEASURE_EV_EFI_VARIABLE_DRIVER_CONFIG) {
                        measure_eventdata *d = NULL;
                        measure_eventdata_error derr;
                        if (measure_eventdata_decode(ev.type, ev.data, ev.data_size, &d, &derr) >= 0) {
                                const char *name = field_text(d, "name");
                                const measure_field *v = field(d, "value");
                                if (name && strcmp(name, "SecureBoot") == 0)
                                        fw.secure_boot = v && v->kind == MEASURE_FIELD_UINT && v->value == 1;
                        }
                        measure_eventdata_free(d);
                }
                if (ev.pcr != MEASURE_PCR_BOOT_LOADER_CODE && ev.pcr != MEASURE_PCR_SECURE_BOOT_POLICY)
                        continue;
                bool boot_manager = ev.pcr == MEASURE_PCR_BOOT_LOADER_CODE &&
                                    ev.type == MEASURE_EV_EFI_BOOT_SERVICES_APPLICATION;
                for (size_t b = 0; b < n_banks; b++) {
                        const measure_event_digest *dg = measure_event_digest_for(&ev, banks[b]->id);
                        if (!dg || dg->size != banks[b]->size)
                                return predict_error_set(err, -ENOENT, "%s: event %zu at offset 0x%zx has no %s digest",
                                                         origin, ev.index, ev.offset, banks[b]->name);
                        if (boot_manager)
                                memcpy(fw.boot_manager[b], dg->digest, dg->size);
                        else {
                                r = measure_bank_extend(&bank[b], ev.pcr, dg->digest);
                                if (r < 0)
                                        return predict_error_set(err, r, "%s: cannot replay bank %s", origin,
                                                                 banks[b]->name);
                        }
                }
                if (boot_manager) {
                        /* UEFI_IMAGE_LOAD_EVENT: the device path ends in the file path of the image. */
                        measure_eventdata *d = NULL;
                        measure_eventdata_error derr;
                        if (measure_eventdata_decode(ev.type, ev.data, ev.data_size, &d, &derr) >= 0) {
                                const char *dp = field_text(d, "device_path"), *file = dp ? strstr(dp, "/\\") : NULL;
                                if (file && strlen(file + 1) < sizeof(fw.boot_manager_path))
                                        strcpy(fw.boot_manager_path, file + 1);
                        }
                        measure_eventdata_free(d);
                        found = true;
                        break;
                }
        }
        if (r < 0)
                return predict_error_set(err, r, "%s: event %zu at offset 0x%zx: %s", origin, lerr.index, lerr.offset,
                                         lerr.message);
        if (!found)
                return predict_error_set(err, -ENOENT, "%s: no boot manager: no EV_EFI_BOOT_SERVICES_APPLICATION event "
                                         "in PCR 4", origin);
        for (size_t b = 0; b < n_banks; b++) {
                memcpy(fw.pcr4[b], bank[b].pcr[MEASURE_PCR_BOOT_LOADER_CODE], banks[b]->size);
                memcpy(fw.pcr7[b], bank[b].pcr[MEASURE_PCR_SECURE_BOOT_POLICY], banks[b]->size);
        }
        *ret = fw;
        return 0;
}

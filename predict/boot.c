/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "predict-boot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pcr.h"
#include "predict-loadoptions.h"

unsigned predict_sdboot_version(const char *ident) {
        static const char prefix[] = "systemd-boot ";
        unsigned long v;
        char *end;

        if (!ident || strncmp(ident, prefix, sizeof(prefix) - 1) != 0)
                return 0;
        v = strtoul(ident + sizeof(prefix) - 1, &end, 10);
        return end == ident + sizeof(prefix) - 1 || v > 100000 ? 0 : (unsigned) v;
}

int predict_boot_compute(const predict_boot_inputs *in, const measure_alg *const *banks, size_t n_banks,
                         predict_boot_pcrs *ret) {
        predict_boot_pcrs p = {};
        uint8_t *sdboot = NULL, *widened = NULL;
        size_t sdboot_size = 0, widened_size = 0;
        int r;

        if (!in || !in->firmware || !in->cmdline || n_banks == 0 || n_banks > PREDICT_MAX_BANKS ||
            in->firmware->n_banks != n_banks)
                return -EINVAL;
        unsigned version = in->sdboot_version ? in->sdboot_version : PREDICT_SDBOOT_DEFAULT_VERSION;
        bool sb = in->firmware->secure_boot;
        /* systemd-boot 252-254 measures the implied options of a type #2 entry and passes them on. */
        bool passes = version >= 252 && version <= 254;

        r = predict_loadoptions_sdboot(in->cmdline, in->cmdline_size, &sdboot, &sdboot_size);
        if (r >= 0)
                r = predict_loadoptions_widen(in->cmdline, in->cmdline_size, &widened, &widened_size);
        if (r < 0)
                goto finish;
        bool passed = passes && sdboot_size > 2;
        /* The stub's rule: LoadOptions win unless Secure Boot is on (they start printable after mangling). */
        bool stub_uses_options = passed && !sb;

        if (!in->stub)
                p.pcr4_unknown = "the entry's stub is not on the ESP (--esp)";
        else if (!sb && !in->kernel)
                p.pcr4_unknown = "the kernel is not a PE image: its Authenticode hash is unknown";

        for (size_t b = 0; b < n_banks; b++) {
                measure_bank bank;
                measure_bank_init(&bank, banks[b], 0);
                memcpy(bank.pcr[4], in->firmware->pcr4[b], banks[b]->size);
                if (!p.pcr4_unknown) {
                        r = measure_bank_extend(&bank, 4, in->boot_manager ? in->boot_manager[b] : in->firmware->boot_manager[b]);
                        if (r >= 0)
                                r = measure_bank_extend(&bank, 4, in->stub[b]);
                        if (r >= 0 && !sb)
                                r = measure_bank_extend(&bank, 4, in->kernel[b]);
                        if (r < 0)
                                goto finish;
                }
                memcpy(p.pcr4[b], bank.pcr[4], banks[b]->size);
                memcpy(p.pcr7[b], in->firmware->pcr7[b], banks[b]->size);

                if (passed)
                        r = measure_bank_extend_data(&bank, 12, sdboot, sdboot_size);
                if (r >= 0 && stub_uses_options)
                        r = measure_bank_extend_data(&bank, 12, sdboot, sdboot_size);
                if (r >= 0)
                        r = stub_uses_options ? measure_bank_extend_data(&bank, 9, sdboot, sdboot_size)
                                              : measure_bank_extend_data(&bank, 9, widened, widened_size);
                if (r >= 0 && in->initrd)
                        r = measure_bank_extend(&bank, 9, in->initrd[b]);
                if (r < 0)
                        goto finish;
                memcpy(p.pcr9[b], bank.pcr[9], banks[b]->size);
                memcpy(p.pcr12[b], bank.pcr[12], banks[b]->size);
        }
        *ret = p;
        r = 0;
finish:
        free(sdboot);
        free(widened);
        return r;
}

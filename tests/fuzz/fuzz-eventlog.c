/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: open, walk, decode and digest-check every event, replay; and device paths on raw input. */
#include <stdint.h>
#include <stdlib.h>

#include "eventdata.h"
#include "eventlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        measure_eventlog log;
        measure_eventlog_iter it;
        measure_eventlog_error err;
        measure_event ev;
        measure_bank banks[MEASURE_EVENTLOG_MAX_ALGS];
        size_t n;
        char *text = NULL;
        measure_eventdata_error derr;

        if (measure_devicepath_to_text(data, size, &text, &derr) == 0)
                free(text);

        if (measure_eventlog_open(data, size, &log, &err) < 0)
                return 0;
        measure_eventlog_iter_init(&it, &log);
        while (measure_eventlog_next(&it, &ev, &err) > 0) {
                measure_eventdata *d = NULL;
                measure_digest_check c;
                if (measure_eventdata_decode(ev.type, ev.data, ev.data_size, &d, &derr) == 0)
                        measure_eventdata_free(d);
                measure_event_check_digest(&ev, &c);
                /* Every decoder on every event's data, not only the one its type names. */
                static const uint32_t types[] = {
                        MEASURE_EV_NO_ACTION, MEASURE_EV_EFI_VARIABLE_BOOT, MEASURE_EV_EFI_BOOT_SERVICES_APPLICATION,
                        MEASURE_EV_EFI_GPT_EVENT, MEASURE_EV_EFI_HANDOFF_TABLES2,
                        MEASURE_EV_EFI_PLATFORM_FIRMWARE_BLOB2,
                        MEASURE_EV_EVENT_TAG, MEASURE_EV_IPL, MEASURE_EV_POST_CODE,
                };
                for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
                        if (measure_eventdata_decode(types[i], ev.data, ev.data_size, &d, &derr) == 0)
                                measure_eventdata_free(d);
        }
        (void) measure_eventlog_replay(&log, banks, &n, &err);
        return 0;
}

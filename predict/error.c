/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "predict-error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int predict_error_set(predict_error *err, int r, const char *fmt, ...) {
        if (err) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(err->message, sizeof(err->message), fmt, ap);
                va_end(ap);
        }
        return r;
}

int predict_error_prefix(predict_error *err, int r, const char *fmt, ...) {
        char old[PREDICT_ERROR_MAX];
        va_list ap;
        int n;

        if (!err)
                return r;
        memcpy(old, err->message, sizeof(old));
        old[sizeof(old) - 1] = 0;
        va_start(ap, fmt);
        n = vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t) n < sizeof(err->message) - 1)
                snprintf(err->message + n, sizeof(err->message) - (size_t) n, ": %s", old);
        return r;
}

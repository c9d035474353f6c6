/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A caller-owned error message for predict/: library code never prints, it fills one of these and returns a
 * negative errno, and the program decides what to show. Messages name the file and, for documents, the JSON
 * path or byte offset of the problem. */

#include <stddef.h>

#define PREDICT_ERROR_MAX 1024

typedef struct predict_error {
        char message[PREDICT_ERROR_MAX];
} predict_error;

/* Formats the message into err (when err is not NULL) and returns r, so that a failure is reported and
 * returned in one line: return predict_error_set(err, -EINVAL, "%s: ...", file). */
int predict_error_set(predict_error *err, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Puts "<prefix>: " in front of the message already in err, to add context on the way up. Returns r. */
int predict_error_prefix(predict_error *err, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

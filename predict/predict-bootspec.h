/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The NixOS bootspec document (RFC 0125, `$toplevel/boot.json`): "org.nixos.bootspec.v1" plus one level
 * of "org.nixos.specialisation.v1". Unknown extensions are ignored; "initrd"/"initrdSecrets" set to null
 * (as the bootspec crate writes them) count as absent; pre-RFC shapes are refused. */

#include <stdbool.h>
#include <stddef.h>

#include "predict-error.h"

#define PREDICT_BOOTSPEC_MAX_SIZE (4u << 20)       /* bytes of one document */
#define PREDICT_BOOTSPEC_MAX_DEPTH 64               /* JSON nesting */
#define PREDICT_BOOTSPEC_MAX_PARAMS 4096            /* kernelParams elements */
#define PREDICT_BOOTSPEC_MAX_STRING (64u << 10)     /* bytes of one string field */
#define PREDICT_BOOTSPEC_MAX_SPECIALISATIONS 1024

/* One "org.nixos.bootspec.v1" object. Strings are UTF-8 without NUL bytes. */
typedef struct predict_bootspec_v1 {
        char *label;
        char *system;
        char *toplevel;
        char *init;
        char *kernel;
        char *initrd;         /* NULL when absent or null */
        char *initrd_secrets; /* NULL when absent or null */
        char **kernel_params;
        size_t n_kernel_params;
} predict_bootspec_v1;

typedef struct predict_specialisation {
        char *name;
        predict_bootspec_v1 v1;
} predict_specialisation;

typedef struct predict_bootspec {
        predict_bootspec_v1 v1;
        predict_specialisation *specialisations; /* sorted by name, bytewise */
        size_t n_specialisations;
        bool nested_specialisations; /* a specialisation had specialisations of its own: not predicted */
        bool synthesized;            /* built from the toplevel's files, there was no boot.json */
} predict_bootspec;

/* Parses a document. origin names it in error messages ("boot.json", a path); errors read
 * "<origin>: $.<json path>: <problem>" or "<origin>: offset <n>: <problem>". */
int predict_bootspec_parse(const char *data, size_t size, const char *origin, predict_error *err,
                           predict_bootspec **ret);

predict_bootspec *predict_bootspec_free(predict_bootspec *b);
void predict_bootspec_v1_done(predict_bootspec_v1 *v);

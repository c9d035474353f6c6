/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Generations of NixOS system profiles. A profile is a path <dir>/<name> (default
 * /nix/var/nix/profiles/system); its generations are the links <dir>/<name>-<N>-link, each pointing at a
 * system toplevel whose boot.json (or, without one, its synthesised bootspec) describes how it boots.
 * Extra profiles live in /nix/var/nix/profiles/system-profiles/<name>. The number N comes from the link
 * name, never from the document; it can be reused after deletion, so the toplevel is part of the
 * identity. All paths are resolved under an optional root (predict-host.h). */

#include <stdbool.h>
#include <stddef.h>

#include "predict-bootspec.h"
#include "predict-error.h"

#define PREDICT_DEFAULT_PROFILE "/nix/var/nix/profiles/system"
#define PREDICT_SYSTEM_PROFILES_DIR "/nix/var/nix/profiles/system-profiles"
#define PREDICT_MAX_GENERATIONS 10000
#define PREDICT_MAX_PROFILES 256

typedef struct predict_generation {
        char *profile;         /* "system" or the name under system-profiles/; NULL for a document by path */
        unsigned long number;  /* from the link name; 0 for a document by path */
        char *link;            /* in-root path of the generation link, or the document's path */
        char *source;          /* boot.json that was read (host path); NULL when synthesised */
        predict_bootspec *bootspec;
} predict_generation;

/* The machine's profiles: the default system profile, then every system-profiles/<name> (entries that do
 * not end in "-link"), sorted. Profiles without a directory are left out. */
int predict_profiles_default(const char *root, predict_error *err, char ***ret_profiles, size_t *ret_n);

/* Lists a profile's generations sorted by number and loads each one's bootspec. A profile without any
 * generation is an error (-ENOENT). */
int predict_profile_load(const char *root, const char *profile, predict_error *err, predict_generation **ret,
                         size_t *ret_n);

/* Loads a bootspec document given by a path on this machine (not under root: only the paths inside it
 * are). */
int predict_generation_from_file(const char *path, predict_error *err, predict_generation *ret);

void predict_generation_done(predict_generation *g);
void predict_generations_free(predict_generation *g, size_t n);

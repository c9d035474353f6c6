/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The two texts a boot entry's stub carries and measures besides the kernel and initrd: the kernel
 * command line (.cmdline) and the os-release (.osrel). The installer writes exactly these bytes and the
 * predictor hashes exactly these bytes, so both call the functions here and nothing else builds them. */

#include <stddef.h>

#include "predict-bootspec.h"
#include "predict-error.h"

#define PREDICT_OS_RELEASE_MAX (64u << 10)

/* "init=<init>" followed by every kernelParams element, each preceded by exactly one space: the
 * elements' bytes are kept as written (quotes, "=" inside values, UTF-8), never re-tokenised. With no
 * kernelParams there is no trailing space (as lzbt writes it; the systemd-boot builder leaves one). A
 * synthesised bootspec whose kernel-params file was empty has one empty element and so ends in a space,
 * which is the command line that generation always had. */
int predict_cmdline(const predict_bootspec_v1 *v, char **ret);

/* The .osrel of a boot entry. See cmdline.c for the choice of contents. os_release is the text of the
 * toplevel's etc/os-release, or NULL when it has none; specialisation may be NULL; generation 0 means "not
 * from a profile" (a document given by path). */
int predict_osrel(const char *os_release, size_t os_release_size, const predict_bootspec_v1 *v,
                  const char *specialisation, unsigned long generation, char **ret);

/* Reads <toplevel>/etc/os-release under root (NULL when it does not exist), then predict_osrel(). */
int predict_osrel_load(const char *root, const predict_bootspec_v1 *v, const char *specialisation,
                       unsigned long generation, predict_error *err, char **ret);

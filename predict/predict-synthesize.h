/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Generations built before NixOS 23.05 carry no boot.json. Their bootspec is synthesised from the files
 * of the toplevel, with the same rules as the bootspec crate's `synthesize --version 1`:
 *   label          "NixOS <nixos-version> (Linux <first entry of kernel-modules/lib/modules>)"
 *   system         the file "system"
 *   kernel         "kernel" (older toplevels: "kernel-modules/bzImage"), symbolic links resolved
 *   kernelParams   the file "kernel-params" split at every single space (so joining gives it back)
 *   init           "<toplevel>/init", not resolved
 *   initrd         "initrd" resolved, absent when missing
 *   initrdSecrets  "<toplevel>/append-initrd-secrets" when it exists
 *   toplevel       the resolved toplevel
 *   specialisations  every entry of "specialisation/", described the same way */

#include "predict-bootspec.h"
#include "predict-error.h"

/* toplevel is an absolute path, resolved under root. */
int predict_bootspec_synthesize(const char *root, const char *toplevel, predict_error *err,
                                predict_bootspec **ret);

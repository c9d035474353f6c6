/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the stub is: the strings tools read from the PE file, without running it. Each lives in its own
 * page-aligned section, as every PE section must start on a SectionAlignment (4096) boundary. */

#include "info.h"

/* Read by bootctl and the predictor to learn which stub (and so which measurement plan) a UKI carries. */
__attribute__((used, section(".sdmagic"), aligned(4096)))
static const char sdmagic[] = "#### LoaderInfo: lantern-stub " LANTERN_VERSION " ####";

/* SBAT revocation metadata (shim's SBAT.md): one header line, then one line per component. The stub's own
 * generation is 1; bump it when a security fix must revoke older stubs. The vendor URL uses the reserved
 * .invalid domain until the project has a public home. */
__attribute__((used, section(".sbat"), aligned(4096)))
static const char sbat[] =
        "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n"
        "lantern,1,Lantern,lantern-stub," LANTERN_VERSION ",https://lantern.invalid/stub\n";

const char stub_info[] = "lantern-stub " LANTERN_VERSION;

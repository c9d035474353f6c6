/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "lantern-config.h"

/* "lantern-stub <version>": the StubInfo variable's value. */
extern const char stub_info[];

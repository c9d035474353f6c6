/* SPDX-License-Identifier: LGPL-2.1-or-later */
typedef int lantern_placeholder_5140;

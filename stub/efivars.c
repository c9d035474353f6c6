/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "efivars.h"

#define LOADER_VENDOR_GUID \
        { 0x4a67b082, 0x0a4c, 0x41cf, { 0xb6, 0xc7, 0x44, 0x0b, 0x29, 0xbb, 0x8c, 0x4f } }
#define VAR_ATTRIBUTES (EFI_VARIABLE_BOOTSERVICE_ACCESS | EFI_VARIABLE_RUNTIME_ACCESS)

/* Offsets in a UEFI hard drive media device path node (UEFI 2.x, 10.3.5.1). */
#define HD_NODE_SIZE 42
#define HD_SIGNATURE_OFFSET 24
#define HD_SIGNATURE_TYPE_OFFSET 41

void stub_efivar_set_string(const CHAR16 *name, const char *value) {
        EFI_GUID vendor = LOADER_VENDOR_GUID;
        CHAR16 *v = stub_ascii_to_utf16(value);
        EFI_STATUS err;

        if (!v) {
                log_error_status(EFI_OUT_OF_RESOURCES, L"Cannot set %s, ignoring", name);
                return;
        }
        err = RT->SetVariable((CHAR16 *) name, &vendor, VAR_ATTRIBUTES, stub_strsize16(v), v);
        if (err != EFI_SUCCESS)
                log_error_status(err, L"Cannot set %s, ignoring", name);
        stub_free(v);
}

void stub_efivar_set_u64_le(const CHAR16 *name, uint64_t value) {
        EFI_GUID vendor = LOADER_VENDOR_GUID;
        uint8_t le[sizeof(uint64_t)];
        EFI_STATUS err;

        for (size_t i = 0; i < sizeof(le); i++)
                le[i] = (uint8_t) (value >> (8 * i));
        err = RT->SetVariable((CHAR16 *) name, &vendor, VAR_ATTRIBUTES, sizeof(le), le);
        if (err != EFI_SUCCESS)
                log_error_status(err, L"Cannot set %s, ignoring", name);
}

static void guid_to_string(const uint8_t g[static 16], char ret[static 37]) {
        /* Mixed-endian: the first three fields are little-endian, the rest bytes in order. */
        static const uint8_t order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
        static const char hex[] = "0123456789ABCDEF";
        size_t p = 0;

        for (size_t i = 0; i < 16; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        ret[p++] = '-';
                ret[p++] = hex[g[order[i]] >> 4];
                ret[p++] = hex[g[order[i]] & 15];
        }
        ret[p] = 0;
}

void stub_efivar_set_device_part_uuid(EFI_HANDLE device) {
        EFI_GUID vendor = LOADER_VENDOR_GUID;
        EFI_DEVICE_PATH *dp;
        UINTN size = 0;
        char uuid[37];

        if (RT->GetVariable(L"LoaderDevicePartUUID", &vendor, NULL, &size, NULL) != EFI_NOT_FOUND)
                return;    /* set by the boot loader (or unreadable): leave it */
        dp = DevicePathFromHandle(device);
        for (; dp && !IsDevicePathEnd(dp); dp = NextDevicePathNode(dp)) {
                const uint8_t *node = (const uint8_t *) dp;

                if ((size_t) DevicePathNodeLength(dp) < sizeof(EFI_DEVICE_PATH))
                        return;    /* malformed: stop walking */
                if (DevicePathType(dp) != MEDIA_DEVICE_PATH || DevicePathSubType(dp) != MEDIA_HARDDRIVE_DP ||
                    DevicePathNodeLength(dp) < HD_NODE_SIZE || node[HD_SIGNATURE_TYPE_OFFSET] != SIGNATURE_TYPE_GUID)
                        continue;
                guid_to_string(node + HD_SIGNATURE_OFFSET, uuid);
                stub_efivar_set_string(L"LoaderDevicePartUUID", uuid);
                return;
        }
}

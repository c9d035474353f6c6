/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "initrd.h"

#define LINUX_EFI_INITRD_MEDIA_GUID \
        { 0x5568e427, 0x68fc, 0x4f3d, { 0xac, 0x74, 0xca, 0x55, 0x52, 0x31, 0xcc, 0x68 } }
#define EFI_LOAD_FILE2_PROTOCOL_GUID \
        { 0x4006c0c1, 0xfcb3, 0x403e, { 0x99, 0x6d, 0x4a, 0x6c, 0x87, 0x24, 0xe0, 0x6d } }

typedef struct {
        VENDOR_DEVICE_PATH vendor;
        EFI_DEVICE_PATH end;
} __attribute__((packed)) initrd_device_path;

static const initrd_device_path initrd_path = {
        .vendor = {
                .Header = { MEDIA_DEVICE_PATH, MEDIA_VENDOR_DP, { sizeof(VENDOR_DEVICE_PATH), 0 } },
                .Guid = LINUX_EFI_INITRD_MEDIA_GUID,
        },
        .end = { END_DEVICE_PATH_TYPE, END_ENTIRE_DEVICE_PATH_SUBTYPE, { sizeof(EFI_DEVICE_PATH), 0 } },
};

/* LoadFile2 has the LoadFile signature; the protocol is the first member so This leads to the data. */
typedef struct {
        EFI_LOAD_FILE_PROTOCOL protocol;
        const void *data;
        size_t size;
} initrd_loader;

static initrd_loader loader;

static EFI_STATUS EFIAPI initrd_load_file(EFI_LOAD_FILE_PROTOCOL *this, EFI_DEVICE_PATH *file_path,
                                          BOOLEAN boot_policy, UINTN *buffer_size, void *buffer) {
        initrd_loader *l = (initrd_loader *) this;

        if (!this || !buffer_size || !file_path)
                return EFI_INVALID_PARAMETER;
        if (boot_policy)
                return EFI_UNSUPPORTED;
        if (!buffer || *buffer_size < l->size) {
                *buffer_size = l->size;
                return EFI_BUFFER_TOO_SMALL;
        }
        CopyMem(buffer, (void *) l->data, l->size);
        *buffer_size = l->size;
        return EFI_SUCCESS;
}

EFI_STATUS stub_initrd_register(const void *data, size_t size, EFI_HANDLE *ret_handle) {
        EFI_GUID dp_guid = DEVICE_PATH_PROTOCOL, lf2_guid = EFI_LOAD_FILE2_PROTOCOL_GUID;
        EFI_DEVICE_PATH *dp = (EFI_DEVICE_PATH *) &initrd_path;
        EFI_HANDLE handle = NULL;
        EFI_STATUS err;

        /* Somebody (a boot loader before us) already offers an initrd: refuse rather than guess. */
        if (BS->LocateDevicePath(&lf2_guid, &dp, &handle) == EFI_SUCCESS)
                return log_error_status(EFI_ALREADY_STARTED, L"Another initrd is already registered for Linux");

        loader = (initrd_loader) {
                .protocol.LoadFile = initrd_load_file,
                .data = data,
                .size = size,
        };
        handle = NULL;
        err = BS->InstallProtocolInterface(&handle, &dp_guid, EFI_NATIVE_INTERFACE, (void *) &initrd_path);
        if (err != EFI_SUCCESS)
                return log_error_status(err, L"Cannot install the initrd device path");
        err = BS->InstallProtocolInterface(&handle, &lf2_guid, EFI_NATIVE_INTERFACE, &loader.protocol);
        if (err != EFI_SUCCESS) {
                BS->UninstallProtocolInterface(handle, &dp_guid, (void *) &initrd_path);
                return log_error_status(err, L"Cannot install the initrd LoadFile2 protocol");
        }
        *ret_handle = handle;
        return EFI_SUCCESS;
}

void stub_initrd_unregister(EFI_HANDLE handle) {
        EFI_GUID dp_guid = DEVICE_PATH_PROTOCOL, lf2_guid = EFI_LOAD_FILE2_PROTOCOL_GUID;

        if (!handle)
                return;
        BS->UninstallProtocolInterface(handle, &lf2_guid, &loader.protocol);
        BS->UninstallProtocolInterface(handle, &dp_guid, (void *) &initrd_path);
}

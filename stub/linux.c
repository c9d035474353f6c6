/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "linux.h"
#include "secure-boot.h"

/* The device path the kernel image is "loaded from": a vendor media node naming the Lantern stub payload. */
#define LANTERN_PAYLOAD_GUID \
        { 0x3e1a7c52, 0x9d0b, 0x4b8e, { 0x8f, 0x61, 0x2c, 0x4d, 0x73, 0xa0, 0x5e, 0x19 } }

typedef struct {
        VENDOR_DEVICE_PATH vendor;
        EFI_DEVICE_PATH end;
} __attribute__((packed)) payload_device_path;

static const payload_device_path payload_path = {
        .vendor = {
                .Header = { MEDIA_DEVICE_PATH, MEDIA_VENDOR_DP, { sizeof(VENDOR_DEVICE_PATH), 0 } },
                .Guid = LANTERN_PAYLOAD_GUID,
        },
        .end = { END_DEVICE_PATH_TYPE, END_ENTIRE_DEVICE_PATH_SUBTYPE, { sizeof(EFI_DEVICE_PATH), 0 } },
};

EFI_STATUS stub_linux_exec(EFI_HANDLE parent, const CHAR16 *cmdline, const void *kernel, size_t kernel_size) {
        EFI_LOADED_IMAGE *image = NULL;
        EFI_HANDLE handle = NULL;
        bool overridden = false;
        EFI_STATUS err;

        /* With Secure Boot off, LoadImage checks nothing and the firmware measures the kernel into PCR 4 as
         * usual. With it on, the firmware would refuse a kernel not signed by db; the stub already verified
         * these very bytes, so it vouches for this one buffer for the duration of one LoadImage call. */
        if (stub_secure_boot_enabled()) {
                err = stub_security_override_install(&payload_path.vendor.Header, kernel, kernel_size);
                if (err != EFI_SUCCESS)
                        return log_error_status(err, L"Cannot install the image verification override");
                overridden = true;
        }
        err = BS->LoadImage(FALSE, parent, (EFI_DEVICE_PATH *) &payload_path.vendor.Header, (void *) kernel,
                            kernel_size, &handle);
        if (overridden)
                stub_security_override_uninstall();
        if (err != EFI_SUCCESS)
                return log_error_status(err, L"The firmware refused to load the kernel image");

        err = BS->HandleProtocol(handle, &LoadedImageProtocol, (void **) &image);
        if (err != EFI_SUCCESS) {
                BS->UnloadImage(handle);
                return log_error_status(err, L"Cannot get the kernel's loaded image protocol");
        }
        if (cmdline) {
                image->LoadOptions = (void *) cmdline;
                image->LoadOptionsSize = stub_strsize16(cmdline);
        }

        err = BS->StartImage(handle, NULL, NULL);
        BS->UnloadImage(handle);
        return log_error_status(err, L"The kernel returned");
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "file.h"

/* A read per call, so a firmware driver never gets one huge request. */
#define READ_CHUNK (4U * 1024U * 1024U)

static EFI_STATUS file_size(EFI_FILE_HANDLE f, const CHAR16 *path, uint64_t *ret_size, bool *ret_dir) {
        EFI_FILE_INFO *info = LibFileInfo(f);

        if (!info)
                return log_error_status(EFI_DEVICE_ERROR, L"Cannot get the size of %s", path);
        *ret_size = info->FileSize;
        *ret_dir = info->Attribute & EFI_FILE_DIRECTORY;
        FreePool(info);
        return EFI_SUCCESS;
}

EFI_STATUS stub_file_read(EFI_HANDLE device, const CHAR16 *path, size_t max, void **ret_data, size_t *ret_size) {
        EFI_FILE_HANDLE root, f;
        uint8_t *buf = NULL;
        uint64_t size;
        size_t done = 0;
        bool dir;
        EFI_STATUS err;

        root = LibOpenRoot(device);
        if (!root)
                return log_error_status(EFI_NOT_FOUND, L"Cannot open the boot volume to read %s", path);
        err = root->Open(root, &f, (CHAR16 *) path, EFI_FILE_MODE_READ, 0);
        root->Close(root);
        if (err != EFI_SUCCESS)
                return log_error_status(err, L"Cannot open %s on the boot volume", path);

        err = file_size(f, path, &size, &dir);
        if (err != EFI_SUCCESS)
                goto finish;
        if (dir) {
                err = log_error_status(EFI_LOAD_ERROR, L"%s is a directory, not a file", path);
                goto finish;
        }
        if (size == 0 || size > max) {
                err = log_error_status(EFI_LOAD_ERROR, L"%s has %ld bytes (allowed: 1 to %ld)",
                                       path, size, (uint64_t) max);
                goto finish;
        }
        buf = stub_alloc(size);
        if (!buf) {
                err = log_error_status(EFI_OUT_OF_RESOURCES, L"Cannot allocate %ld bytes for %s", size, path);
                goto finish;
        }

        while (done < size) {
                UINTN n = size - done < READ_CHUNK ? size - done : READ_CHUNK;

                err = f->Read(f, &n, buf + done);
                if (err != EFI_SUCCESS) {
                        err = log_error_status(err, L"Reading %s failed at offset %ld", path, (uint64_t) done);
                        goto finish;
                }
                if (n == 0) {
                        err = log_error_status(EFI_END_OF_FILE, L"Short read of %s: %ld of %ld bytes",
                                               path, (uint64_t) done, size);
                        goto finish;
                }
                done += n;
        }

        *ret_data = buf;
        *ret_size = size;
        buf = NULL;
        err = EFI_SUCCESS;
finish:
        stub_free(buf);
        f->Close(f);
        return err;
}

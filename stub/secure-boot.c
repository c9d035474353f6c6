/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Security and Security2 architectural protocols are in the PI specification (DXE CIS), not UEFI;
 * gnu-efi has no header for them. */

#include "secure-boot.h"

#define EFI_SECURITY_ARCH_PROTOCOL_GUID \
        { 0xa46423e3, 0x4617, 0x49f1, { 0xb9, 0xff, 0xd1, 0xbf, 0xa9, 0x11, 0x58, 0x39 } }
#define EFI_SECURITY2_ARCH_PROTOCOL_GUID \
        { 0x94ab2f58, 0x1438, 0x4ef1, { 0x91, 0x52, 0x18, 0x94, 0x1a, 0x3a, 0x0e, 0x68 } }

typedef struct EFI_SECURITY_ARCH_PROTOCOL EFI_SECURITY_ARCH_PROTOCOL;
typedef EFI_STATUS (EFIAPI *security_hook_t)(const EFI_SECURITY_ARCH_PROTOCOL *this, uint32_t authentication_status,
                                             const EFI_DEVICE_PATH *file);
struct EFI_SECURITY_ARCH_PROTOCOL {
        security_hook_t FileAuthenticationState;
};

typedef struct EFI_SECURITY2_ARCH_PROTOCOL EFI_SECURITY2_ARCH_PROTOCOL;
typedef EFI_STATUS (EFIAPI *security2_hook_t)(const EFI_SECURITY2_ARCH_PROTOCOL *this, const EFI_DEVICE_PATH *device_path,
                                              void *file_buffer, UINTN file_size, BOOLEAN boot_policy);
struct EFI_SECURITY2_ARCH_PROTOCOL {
        security2_hook_t FileAuthentication;
};

static struct {
        EFI_SECURITY_ARCH_PROTOCOL *security;
        EFI_SECURITY2_ARCH_PROTOCOL *security2;
        security_hook_t original;
        security2_hook_t original2;
        const EFI_DEVICE_PATH *device_path;
        const void *buffer;
        size_t size;
} override;

bool stub_secure_boot_enabled(void) {
        EFI_GUID global = EFI_GLOBAL_VARIABLE;
        uint8_t value = 0;
        UINTN size = sizeof(value);

        if (RT->GetVariable(L"SecureBoot", &global, NULL, &size, &value) != EFI_SUCCESS || size != 1)
                return false;
        return value == 1;
}

static UINTN device_path_size(const EFI_DEVICE_PATH *dp) {
        return dp->Length[0] | (UINTN) dp->Length[1] << 8;
}

/* Our own two-node device path: the first node and the end node must be byte-identical. */
static bool is_our_device_path(const EFI_DEVICE_PATH *dp) {
        const EFI_DEVICE_PATH *ours = override.device_path;
        UINTN n;

        if (!dp || !ours)
                return false;
        n = device_path_size(ours);
        if (device_path_size(dp) != n || CompareMem((void *) dp, (void *) ours, n) != 0)
                return false;
        dp = (const EFI_DEVICE_PATH *) ((const uint8_t *) dp + n);
        ours = (const EFI_DEVICE_PATH *) ((const uint8_t *) ours + n);
        return CompareMem((void *) dp, (void *) ours, sizeof(EFI_DEVICE_PATH)) == 0;
}

static EFI_STATUS EFIAPI security2_hook(const EFI_SECURITY2_ARCH_PROTOCOL *this, const EFI_DEVICE_PATH *device_path,
                                        void *file_buffer, UINTN file_size, BOOLEAN boot_policy) {
        if (file_buffer && file_buffer == override.buffer && file_size == override.size)
                return EFI_SUCCESS;
        return override.original2(this, device_path, file_buffer, file_size, boot_policy);
}

/* Security (v1) sees no buffer, only the device path; firmware calls it after Security2 for images from
 * firmware volumes, or alone where there is no Security2. */
static EFI_STATUS EFIAPI security_hook(const EFI_SECURITY_ARCH_PROTOCOL *this, uint32_t authentication_status,
                                       const EFI_DEVICE_PATH *file) {
        if (is_our_device_path(file))
                return EFI_SUCCESS;
        return override.original(this, authentication_status, file);
}

EFI_STATUS stub_security_override_install(const EFI_DEVICE_PATH *device_path, const void *buffer, size_t size) {
        EFI_GUID guid = EFI_SECURITY_ARCH_PROTOCOL_GUID, guid2 = EFI_SECURITY2_ARCH_PROTOCOL_GUID;
        EFI_SECURITY_ARCH_PROTOCOL *security = NULL;
        EFI_SECURITY2_ARCH_PROTOCOL *security2 = NULL;

        /* Either may be absent; if both are, nothing checks images and nothing needs overriding. */
        (void) BS->LocateProtocol(&guid, NULL, (void **) &security);
        (void) BS->LocateProtocol(&guid2, NULL, (void **) &security2);

        override.device_path = device_path;
        override.buffer = buffer;
        override.size = size;
        if (security) {
                override.security = security;
                override.original = security->FileAuthenticationState;
                security->FileAuthenticationState = security_hook;
        }
        if (security2) {
                override.security2 = security2;
                override.original2 = security2->FileAuthentication;
                security2->FileAuthentication = security2_hook;
        }
        return EFI_SUCCESS;
}

void stub_security_override_uninstall(void) {
        if (override.security)
                override.security->FileAuthenticationState = override.original;
        if (override.security2)
                override.security2->FileAuthentication = override.original2;
        override = (typeof(override)) {};
}

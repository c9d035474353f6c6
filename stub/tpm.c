/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* EFI_TCG2_PROTOCOL, declared from the TCG EFI Protocol Specification (gnu-efi has no header for it). */

#include "tpm.h"

#define EFI_TCG2_PROTOCOL_GUID \
        { 0x607f766c, 0x7455, 0x42be, { 0x93, 0x0b, 0xe4, 0xd7, 0x6d, 0xb2, 0x72, 0x0f } }
#define EFI_TCG2_EVENT_HEADER_VERSION 1

typedef struct {
        uint8_t Major;
        uint8_t Minor;
} __attribute__((packed)) EFI_TCG2_VERSION;

/* Naturally aligned, unlike the event structures: EDK2's Tcg2Protocol.h declares it outside its pack(1)
 * region, and firmware fills it at those offsets (36 bytes). */
typedef struct {
        uint8_t Size;
        EFI_TCG2_VERSION StructureVersion;
        EFI_TCG2_VERSION ProtocolVersion;
        uint32_t HashAlgorithmBitmap;
        uint32_t SupportedEventLogs;
        uint8_t TPMPresentFlag;
        uint16_t MaxCommandSize;
        uint16_t MaxResponseSize;
        uint32_t ManufacturerID;
        uint32_t NumberOfPCRBanks;
        uint32_t ActivePcrBanks;
} EFI_TCG2_BOOT_SERVICE_CAPABILITY;

typedef struct {
        uint32_t HeaderSize;
        uint16_t HeaderVersion;
        uint32_t PCRIndex;
        uint32_t EventType;
} __attribute__((packed)) EFI_TCG2_EVENT_HEADER;

typedef struct {
        uint32_t Size;
        EFI_TCG2_EVENT_HEADER Header;
        uint8_t Event[];
} __attribute__((packed)) EFI_TCG2_EVENT;

typedef struct EFI_TCG2_PROTOCOL EFI_TCG2_PROTOCOL;
struct EFI_TCG2_PROTOCOL {
        EFI_STATUS (EFIAPI *GetCapability)(EFI_TCG2_PROTOCOL *This, EFI_TCG2_BOOT_SERVICE_CAPABILITY *Capability);
        void *GetEventLog;
        EFI_STATUS (EFIAPI *HashLogExtendEvent)(EFI_TCG2_PROTOCOL *This, uint64_t Flags,
                                                EFI_PHYSICAL_ADDRESS DataToHash, uint64_t DataToHashLen,
                                                EFI_TCG2_EVENT *EfiTcgEvent);
        void *SubmitCommand;
        void *GetActivePcrBanks;
        void *SetActivePcrBanks;
        void *GetResultOfSetActivePcrBanks;
};

_Static_assert(sizeof(EFI_TCG2_EVENT_HEADER) == 14, "TCG2 event header is 14 bytes");
_Static_assert(sizeof(EFI_TCG2_EVENT) == 18, "TCG2 event is 18 bytes before its data");
_Static_assert(sizeof(EFI_TCG2_BOOT_SERVICE_CAPABILITY) == 36, "TCG2 capability is 36 bytes");

static EFI_TCG2_PROTOCOL *tcg2_find(void) {
        static EFI_TCG2_PROTOCOL *cached;
        static bool looked;
        EFI_GUID guid = EFI_TCG2_PROTOCOL_GUID;
        EFI_TCG2_PROTOCOL *tcg = NULL;
        EFI_TCG2_BOOT_SERVICE_CAPABILITY cap = { .Size = sizeof(cap) };

        if (looked)
                return cached;
        looked = true;

        if (BS->LocateProtocol(&guid, NULL, (void **) &tcg) != EFI_SUCCESS || !tcg)
                return NULL;
        if (tcg->GetCapability(tcg, &cap) != EFI_SUCCESS)
                return NULL;
        /* Firmware implementing the 1.0 layout of this structure reports a smaller Size, where
         * TPMPresentFlag sits elsewhere; only trust the flag when the structure is the one declared here. */
        if (cap.Size >= offsetof(EFI_TCG2_BOOT_SERVICE_CAPABILITY, MaxCommandSize) && !cap.TPMPresentFlag)
                return NULL;

        cached = tcg;
        return cached;
}

bool stub_tpm_present(void) {
        return tcg2_find() != NULL;
}

EFI_STATUS stub_tpm_log_event(uint32_t pcr, const void *data, size_t size, const CHAR16 *description,
                              bool *ret_measured) {
        EFI_TCG2_PROTOCOL *tcg = tcg2_find();
        EFI_TCG2_EVENT *event;
        size_t desc_size;
        EFI_STATUS err;

        if (!tcg) {
                *ret_measured = false;
                return EFI_SUCCESS;
        }

        desc_size = stub_strsize16(description);
        event = stub_alloc(offsetof(EFI_TCG2_EVENT, Event) + desc_size);
        if (!event)
                return log_error_status(EFI_OUT_OF_RESOURCES, L"Cannot allocate a TPM event");
        *event = (EFI_TCG2_EVENT) {
                .Size = offsetof(EFI_TCG2_EVENT, Event) + desc_size,
                .Header = {
                        .HeaderSize = sizeof(EFI_TCG2_EVENT_HEADER),
                        .HeaderVersion = EFI_TCG2_EVENT_HEADER_VERSION,
                        .PCRIndex = pcr,
                        .EventType = STUB_EV_IPL,
                },
        };
        CopyMem(event->Event, (void *) description, desc_size);

        err = tcg->HashLogExtendEvent(tcg, 0, (EFI_PHYSICAL_ADDRESS) (uintptr_t) data, size, event);
        stub_free(event);
        if (err != EFI_SUCCESS)
                return log_error_status(err, L"TPM HashLogExtendEvent for PCR %d (%s) failed", pcr, description);

        *ret_measured = true;
        return EFI_SUCCESS;
}

#!/usr/bin/env python3
"""Writes the synthetic seed corpora for report_fuzzer and cert_table_fuzzer.

Every seed is built here from the layout in shared/docs/snp-facts.md sections 1 and 8 (no real
AMD reports are copied into the repo). Signatures are fake 48-byte patterns. Deterministic.
Run from anywhere: python3 fuzz/gen_snp_corpus.py
"""
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT_DIR = os.path.join(HERE, "corpus", "report")
TABLE_DIR = os.path.join(HERE, "corpus", "cert_table")


def tcb_milan(bl, tee, snp, ucode):
    return bytes([bl, tee, 0, 0, 0, 0, snp, ucode])


def tcb_turin(fmc, bl, tee, snp, ucode):
    return bytes([fmc, bl, tee, snp, 0, 0, 0, ucode])


def report(version, cpuid=(0x19, 0x11, 0x01), tcb=tcb_milan(10, 0, 25, 84), policy=0x30000,
           vmpl=0, signer_info=0, platform_info=0x25, chip_id=None, mit=(1, 3)):
    b = bytearray(1184)
    struct.pack_into("<IIQ", b, 0x000, version, 1, policy)
    struct.pack_into("<II", b, 0x030, vmpl, 1)
    b[0x038:0x040] = tcb
    struct.pack_into("<QI", b, 0x040, platform_info, signer_info)
    b[0x050:0x090] = bytes(range(1, 65))
    b[0x090:0x0C0] = bytes((0x80 + i) & 0xFF for i in range(48))
    b[0x140:0x160] = bytes(range(0x40, 0x60))
    b[0x160:0x180] = b"\xff" * 32
    b[0x180:0x188] = tcb
    if version >= 3:
        b[0x188:0x18B] = bytes(cpuid)
    b[0x1A0:0x1E0] = chip_id if chip_id is not None else bytes((0xC0 ^ i) for i in range(64))
    b[0x1E0:0x1E8] = tcb
    b[0x1E8:0x1EB] = bytes([43, 55, 1])
    b[0x1EC:0x1EF] = bytes([43, 55, 1])
    b[0x1F0:0x1F8] = tcb
    if version >= 5:
        struct.pack_into("<QQ", b, 0x1F8, mit[0], mit[1])
    b[0x2A0:0x2A0 + 48] = bytes((0x11 + i) & 0xFF for i in range(48))
    b[0x2E8:0x2E8 + 48] = bytes((0x99 - i) & 0xFF for i in range(48))
    return bytes(b)


def cert_table(entries, pad_to=0):
    out = bytearray()
    offset = 24 * (len(entries) + 1)
    for guid, data in entries:
        out += bytes.fromhex(guid.replace("-", "")) + struct.pack("<II", offset, len(data))
        offset += len(data)
    out += bytes(24)
    for _, data in entries:
        out += data
    if len(out) < pad_to:
        out += bytes(pad_to - len(out))
    return bytes(out)


def write(directory, name, data):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def main():
    rng = random.Random(20261128)
    seeds = {
        "v2_milan.bin": report(2, tcb=tcb_milan(3, 0, 8, 115), platform_info=1),
        "v2_debug_policy.bin": report(2, policy=0xB0000, tcb=tcb_milan(2, 0, 5, 68)),
        "v3_genoa_abi31.bin": report(3, policy=0x3001F, platform_info=0x24),
        "v3_milan_vlek_vmpl1.bin": report(3, cpuid=(0x19, 0x01, 0x01), vmpl=1, signer_info=4,
                                          platform_info=0x27),
        "v3_bergamo.bin": report(3, cpuid=(0x19, 0xA0, 0x02)),
        "v3_turin.bin": report(3, cpuid=(0x1A, 0x02, 0x00), tcb=tcb_turin(1, 2, 3, 4, 0x50),
                               platform_info=0x65, chip_id=bytes(range(0xA1, 0xA9)) + bytes(56)),
        "v4_genoa.bin": report(4),
        "v5_genoa_mit.bin": report(5, policy=0x2030000),
        "v6_unknown_version.bin": report(6, policy=0x4030000),
        "v5_masked_chip_no_key.bin": report(5, signer_info=0x1E, chip_id=bytes(64)),
        "bad_reserved_208.bin": report(3)[:0x208] + b"\x01" + report(3)[0x209:],
        "bad_sig_algo.bin": report(2)[:0x34] + b"\x02" + report(2)[0x35:],
        "garbage_short.bin": bytes(rng.randrange(256) for _ in range(37)),
        "garbage_1184.bin": bytes(rng.randrange(256) for _ in range(1184)),
    }
    for name, data in seeds.items():
        write(REPORT_DIR, name, data)

    ark = "c0b406a4-a803-4952-9743-3fb6014cd0ae"
    ask = "4ab7b379-bbac-4fe4-a02f-05aef327c782"
    vcek = "63da758d-e664-4564-adc5-f4b93be8accd"
    vlek = "a8074bc2-a25a-483e-aae6-39c045a0b8a1"
    crl = "92f81bc3-5811-4d3d-97ff-d19f88dc67ea"
    der = lambda n, tag: bytes([0x30, 0x82, (n - 4) >> 8, (n - 4) & 0xFF]) + bytes([tag]) * (n - 4)
    tables = {
        "vcek_ask_ark.bin": cert_table([(vcek, der(300, 1)), (ask, der(400, 2)), (ark, der(400, 3))]),
        "vlek_asvk_ark_crl_padded.bin": cert_table(
            [(vlek, der(200, 4)), (ask, der(250, 5)), (ark, der(250, 6)), (crl, der(100, 7))], 4096),
        "empty_all_zero.bin": bytes(4096),
        "unknown_guid.bin": cert_table([("00112233-4455-6677-8899-aabbccddeeff", b"x" * 16)]),
        "missing_terminator.bin": cert_table([(vcek, der(64, 1))])[:24] + b"\x01" * 40,
        "overlap.bin": (lambda t: t[:40] + struct.pack("<I", struct.unpack_from("<I", t, 16)[0])
                        + t[44:])(cert_table([(vcek, der(64, 1)), (ask, der(64, 2))])),
        "garbage.bin": bytes(rng.randrange(256) for _ in range(200)),
    }
    for name, data in tables.items():
        write(TABLE_DIR, name, data)


if __name__ == "__main__":
    main()

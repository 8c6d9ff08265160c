#!/usr/bin/env python3
# scan_memory.py PID AES_KEY_FILE EC_PKCS8_DER: exit 0 when the live process's readable memory holds the
# example client's plaintext (control) but none of the key material.
import re, subprocess, sys
pid = int(sys.argv[1])
aes = open(sys.argv[2], "rb").read()
der = open(sys.argv[3], "rb").read()
text = subprocess.run(["openssl", "pkey", "-inform", "DER", "-in", sys.argv[3], "-text", "-noout"],
                      capture_output=True, text=True).stdout
hexd = "".join(re.findall(r"[0-9a-f]{2}", text.split("priv:")[1].split("pub:")[0]))
scalar = bytes.fromhex(hexd)[-32:]
needles = {"AES key": aes, "EC private scalar": scalar, "EC PKCS#8": der[:48]}
# Control: the client's own plaintext must be found, proving the scan sees the heap.
needles_control = b"attack at dawn: the application never sees the key"
found_control = False
bad = []
with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
    for line in maps:
        parts = line.split()
        if "r" not in parts[1]:
            continue
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        if hi - lo > (1 << 30):
            continue  # sanitizer shadow/reserve mappings (terabytes of zeros), never the client's heap
        try:
            mem.seek(lo)
            chunk = mem.read(hi - lo)
        except (OSError, MemoryError, OverflowError):
            continue
        if needles_control in chunk:
            found_control = True
        for name, n in needles.items():
            if n in chunk:
                bad.append(name)
print("scan: control plaintext found:", found_control, "; key material found:", bad or "none")
sys.exit(0 if found_control and not bad else 1)

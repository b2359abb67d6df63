#!/usr/bin/env python3
"""Renders gpusim's HTML report in headless Chromium and fails on an empty or broken page.

usage: check_report.py GPUSIM_BINARY
Writes a report for FlashAttention, loads it in Chromium (--dump-dom for the structure,
--screenshot for the pixels) and checks: every section and figure is present with inline SVG,
no resource was fetched from the network, and the screenshot is a real, non-blank picture.
Prints 'N passed, M failed'."""
import os, re, shutil, struct, subprocess, sys, tempfile, zlib

def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None

def png_stats(path):
    """Fraction of non-white pixels of an 8-bit RGB/RGBA PNG (filters undone)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), f"unexpected PNG format {depth}/{ctype}"
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    ink = total = 0
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        if y % 4 == 0:
            for x in range(0, w, 4):
                px = line[x * bpp:x * bpp + 3]
                total += 1
                if min(px) < 200:
                    ink += 1
        prev = line
    return w, h, ink / max(total, 1)

def main():
    exe = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/debug/gpusim")
    browser = chromium()
    passed = failed = 0
    def check(name, ok, detail=""):
        nonlocal passed, failed
        print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))
        if ok: passed += 1
        else: failed += 1
    if not browser:
        check("chromium is installed", False, "apt-get install chromium")
        print(f"{passed} passed, {failed} failed"); return 1
    tmp = tempfile.mkdtemp(prefix="gpusim-report-")
    html = os.path.join(tmp, "report.html")
    r = subprocess.run([exe, "report", "Kernels/flash_attention.kern", "--gpu", "seed-a100", "--N", "2048", "-o", html], capture_output=True, text=True)
    check("gpusim report exits 0", r.returncode == 0, r.stderr)
    text = open(html, encoding="utf-8").read() if os.path.exists(html) else ""
    check("no network resources", not re.search(r'(src|href)="(https?:)?//', text), "found an external URL")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--allow-file-access-from-files"]
    dom = subprocess.run([browser, *flags, "--dump-dom", "file://" + html], capture_output=True, text=True, timeout=120).stdout
    for section in ("summary", "tensors", "phases", "roofline", "graph", "timeline"):
        check(f"section #{section} rendered", f'id="{section}"' in dom, "missing from the DOM")
    check("three inline SVG figures", dom.count("<svg") >= 3, f"{dom.count('<svg')} found")
    check("graph has HBM tensor nodes", dom.count('class="node tensor"') == 4, "node count")
    shot = os.path.join(tmp, "report.png")
    subprocess.run([browser, *flags, "--window-size=1200,2600", f"--screenshot={shot}", "file://" + html], capture_output=True, timeout=120)
    if os.path.exists(shot):
        w, h, ink = png_stats(shot)
        check("screenshot has the window's size", (w, h) == (1200, 2600), f"{w}x{h}")
        check("screenshot is not blank", 0.02 < ink < 0.6, f"ink fraction {ink:.3f}")
    else:
        check("screenshot written", False, "no PNG")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1

if __name__ == "__main__":
    sys.exit(main())

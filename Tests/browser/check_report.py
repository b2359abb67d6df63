#!/usr/bin/env python3
"""Renders gpusim's HTML report in headless Chromium and fails on an empty or broken page.

usage: check_report.py GPUSIM_BINARY
Writes a report for FlashAttention, loads it in Chromium (--dump-dom for the structure,
--screenshot for the pixels) and checks: every section and figure is present with inline SVG,
no resource was fetched from the network, and the screenshot is a real, non-blank picture.
Then renders roofline charts of several kernels and checks, from the browser's own text boxes
(getBoundingClientRect of every <text>), that no two labels overlap and none leaves the chart;
the same for the graph of every shipped kernel.
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
    # Roofline labels: measured by the browser, not estimated.
    probe = """<script>
    window.onload = () => {
      const svg = document.querySelector('svg'), box = svg.getBoundingClientRect();
      const texts = [...svg.querySelectorAll('text')].map(t => [t.textContent, t.getBoundingClientRect()]);
      const bad = [];
      for (const [s, r] of texts) {
        if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5) bad.push('outside: ' + s);
      }
      for (let i = 0; i < texts.length; i++) for (let j = i + 1; j < texts.length; j++) {
        const a = texts[i][1], b = texts[j][1];
        const w = Math.min(a.right, b.right) - Math.max(a.left, b.left), h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (w > 1 && h > 1) bad.push('overlap: ' + texts[i][0] + ' / ' + texts[j][0]);
      }
      const out = document.createElement('pre');
      out.id = 'labels-' + 'result';
      out.textContent = texts.length + ' labels; ' + (bad.length ? bad.join('; ') : 'clear');
      document.body.appendChild(out);
    };
    </script>"""
    for kernel, gpu, params in [("Kernels/flash_attention.kern", "seed-a100", []), ("Kernels/attention_2d.kern", "a100-80gb", ["--N", "2048"]),
                                ("Kernels/stack/eager_attention.kern", "h100-sxm", ["--N", "4096"]), ("Kernels/models/gpt2_small.kern", "h100-sxm", []),
                                ("Kernels/models/llama2_7b.kern", "a100-80gb", ["--T", "1", "--P", "4095"])]:
        svg = os.path.join(tmp, "roofline.svg")
        r = subprocess.run([exe, "roofline", kernel, "--gpu", gpu, *params, "-o", svg], capture_output=True, text=True)
        if r.returncode != 0:
            check(f"roofline of {kernel}", False, r.stderr); continue
        page = os.path.join(tmp, "roofline.html")
        open(page, "w").write("<!DOCTYPE html><html><body style='margin:0'>" + open(svg).read() + probe + "</body></html>")
        dom = subprocess.run([browser, *flags, "--dump-dom", "file://" + page], capture_output=True, text=True, timeout=120).stdout
        m = re.search(r'<pre id="labels-result">(.*?)</pre>', dom, re.S)
        result = m.group(1) if m else "no result (script did not run)"
        check(f"roofline labels of {os.path.basename(kernel)} on {gpu} are clear", result.endswith("clear"), result)
    # Reports: every figure's labels (roofline, graph, timeline) clear of each other and inside
    # their figure, as the browser lays the page out.
    figures = """<script>
    window.addEventListener('load', () => {
      const bad = []; let n = 0;
      for (const svg of document.querySelectorAll('figure svg')) {
        const box = svg.getBoundingClientRect(), name = svg.closest('figure').id;
        const texts = [...svg.querySelectorAll('text')].map(t => [t.textContent, t.getBoundingClientRect()]).filter(([s, r]) => r.width > 0);
        n += texts.length;
        for (const [s, r] of texts) if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5) bad.push(name + ' outside: ' + s);
        for (let i = 0; i < texts.length; i++) for (let j = i + 1; j < texts.length; j++) {
          const a = texts[i][1], b = texts[j][1];
          const w = Math.min(a.right, b.right) - Math.max(a.left, b.left), h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
          if (w > 1 && h > 1) bad.push(name + ' overlap: ' + texts[i][0] + ' / ' + texts[j][0]);
        }
      }
      const out = document.createElement('pre'); out.id = 'figures-result';
      out.textContent = n + ' labels; ' + (bad.length ? bad.slice(0, 6).join('; ') : 'clear');
      document.body.appendChild(out);
    });
    </script>"""
    for kernel, params in [("flash_attention", ["--gpu", "seed-a100", "--N", "2048"]), ("attention_2d", []), ("models/gpt2_small", [])]:
        page = os.path.join(tmp, "figures.html")
        r = subprocess.run([exe, "report", f"Kernels/{kernel}.kern", *params, "-o", page], capture_output=True, text=True)
        if r.returncode != 0:
            check(f"report of {kernel}", False, r.stderr); continue
        text = open(page, encoding="utf-8").read()
        open(page, "w").write(text.replace("</body>", figures + "</body>"))
        dom = subprocess.run([browser, *flags, "--window-size=1200,2600", "--dump-dom", "file://" + page], capture_output=True, text=True, timeout=120).stdout
        m = re.search(r'<pre id="figures-result">(.*?)</pre>', dom, re.S)
        result = m.group(1) if m else "no result (script did not run)"
        check(f"report figures of {kernel} have clear labels", result.endswith("clear"), result)
    # A model's report: its launches by time, its graph on top, and the graph zooms on the wheel.
    html = os.path.join(tmp, "model.html")
    r = subprocess.run([exe, "report", "Kernels/models/gpt2_small.kern", "-o", html], capture_output=True, text=True)
    check("gpusim report of gpt2_small exits 0", r.returncode == 0, r.stderr)
    if r.returncode == 0:
        zoom = """<script>
        window.addEventListener('load', () => {
          const svg = document.querySelector('#graph svg'), before = svg.getAttribute('viewBox'), b = svg.getBoundingClientRect();
          svg.dispatchEvent(new WheelEvent('wheel', { deltaY: -100, clientX: b.left + b.width / 2, clientY: b.top + b.height / 2, bubbles: true, cancelable: true }));
          const out = document.createElement('pre'); out.id = 'zoom-result';
          out.textContent = (svg.getAttribute('viewBox') !== before ? 'zoomed' : 'unchanged') + ' ' + before + ' -> ' + svg.getAttribute('viewBox');
          document.body.appendChild(out);
        });
        </script>"""
        page = os.path.join(tmp, "model-probe.html")
        open(page, "w").write(open(html, encoding="utf-8").read().replace("</body>", zoom + "</body>"))
        dom = subprocess.run([browser, *flags, "--dump-dom", "file://" + page], capture_output=True, text=True, timeout=120).stdout
        check("model report lists its launches", dom.count("<tr>") > 20 and 'id="launches"' in dom and dom.index('id="graph"') < dom.index('id="tensors"'), "launch table or graph position")
        m = re.search(r'<pre id="zoom-result">(.*?)</pre>', dom, re.S)
        check("the report's graph zooms on the wheel", bool(m) and m.group(1).startswith("zoomed"), m.group(1) if m else "no result")
    # Every shipped kernel's graph (models: one node per launch): labels clear of each other and
    # inside the drawing, and GPT-2 small's (a generation step: its layer, the cache write, the
    # last positions, LM head and sampling) within 1600 x 1500 px (Graphviz sizes in pt: 96 / 72
    # px each). The paper's batched kernels at the tests' small sizes.
    small = {"paper/flash_attention_v1": ["--B", "1", "--H", "2", "--N", "100", "--d", "16", "--Bc", "24"],
             "paper/standard_attention_eager": ["--B", "1", "--H", "2", "--N", "100", "--d", "16", "--T", "32", "--R", "8"]}
    kernels = sorted(os.path.relpath(os.path.join(d, f), "Kernels")[:-5] for d, _, fs in os.walk("Kernels") for f in fs if f.endswith(".kern"))
    for kernel in kernels:
        svg = os.path.join(tmp, "graph.svg")
        r = subprocess.run([exe, "graph", f"Kernels/{kernel}.kern", *small.get(kernel, []), "-o", svg], capture_output=True, text=True)
        if r.returncode != 0:
            check(f"model graph of {kernel}", False, r.stderr); continue
        drawing = open(svg).read()
        page = os.path.join(tmp, "graph.html")
        open(page, "w").write("<!DOCTYPE html><html><body style='margin:0'>" + drawing[drawing.index("<svg"):] + probe + "</body></html>")
        dom = subprocess.run([browser, *flags, "--dump-dom", "file://" + page], capture_output=True, text=True, timeout=120).stdout
        m = re.search(r'<pre id="labels-result">(.*?)</pre>', dom, re.S)
        result = m.group(1) if m else "no result (script did not run)"
        check(f"graph labels of {kernel} are clear", result.endswith("clear"), result)
        if kernel == "models/gpt2_small":
            size = re.search(r'width="(\d+)pt" height="(\d+)pt"', drawing)
            w, h = (int(size.group(1)) * 4 // 3, int(size.group(2)) * 4 // 3) if size else (0, 0)
            check("gpt2_small's model graph fits 1600 x 1500 px", 0 < w <= 1600 and 0 < h <= 1500, f"{w} x {h} px")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1

if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Re-runs every documented command and puts its real output back in the docs.

A fenced block that holds one command, `$ gpusim ...` on its first line, and its output (in
README.md and docs/*.md) gets that command's output, run from the repository root with the
release build first on PATH and NO_COLOR set, in a scratch folder (so files a command writes
never land in the checkout; kernels resolve through the library). Blocks of several commands, and outputs an
author shortened with a line of "...", are left alone. Run it after a change to the model;
review the diff like any other change."""
import os, pathlib, re, subprocess, sys, tempfile

root = pathlib.Path(__file__).resolve().parent.parent
env = dict(os.environ, NO_COLOR="1", PATH=f"{root}/.build/release:{os.environ['PATH']}")
# The closing fence is a line of its own (text after ``` on that line would be swallowed).
# Lazy in both ways, so a block without output yet never runs on into the next one.
block = re.compile(r"```\n(\$ (gpusim [^\n]*))\n(?:.*?\n)??```(?=\n|\Z)", re.S)
failed = False
for doc in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
    text = doc.read_text()
    def rerun(m):
        global failed
        body = m.group(0).split("\n")[2:-1]
        if any(l.startswith("$ ") for l in body) or any(l.strip() == "..." or l.endswith(": ...  ok") for l in body):
            return m.group(0)
        with tempfile.TemporaryDirectory() as scratch:
            r = subprocess.run(["bash", "-c", m.group(2)], cwd=scratch, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            failed = True
            print(f"{doc.name}: '{m.group(2)}' failed:\n{r.stderr}", file=sys.stderr)
            return m.group(0)
        return f"```\n{m.group(1)}\n{r.stdout.rstrip()}\n```"
    new = block.sub(rerun, text)
    if new != text:
        doc.write_text(new)
        print(f"updated {doc.relative_to(root)}")
sys.exit(1 if failed else 0)

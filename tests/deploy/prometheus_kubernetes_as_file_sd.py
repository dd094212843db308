#!/usr/bin/env python3
"""Writes deploy/prometheus/kubernetes.yml with its Kubernetes discovery swapped for files.

Debian's Prometheus has no Kubernetes discovery, so the tests run kubernetes.yml with
`kubernetes_sd_configs: [{role: pod}]` replaced by `file_sd_configs: [{files: [pods.json]}]`
(pods.json beside the output; its targets carry the __meta_kubernetes_* labels a pod would
have, so the relabeling runs unchanged), and alerts.yml copied beside it. Everything else
is kept byte for byte; with --interval, the global scrape and evaluation intervals are set
too. Fails when the text to replace is not found.

Usage: prometheus_kubernetes_as_file_sd.py KUBERNETES_YML OUT_YML [--interval 1s]
"""
import pathlib
import shutil
import sys


def replace_once(text, old, new):
    if text.count(old) != 1:
        sys.exit(f"expected exactly one {old!r} in the config, found {text.count(old)}")
    return text.replace(old, new)


def main(argv):
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--interval"):
        sys.exit(__doc__)
    src, out = pathlib.Path(argv[0]), pathlib.Path(argv[1])
    text = src.read_text(encoding="utf-8")
    text = replace_once(text, "    kubernetes_sd_configs:\n      - role: pod\n",
                        "    file_sd_configs:\n      - files: [pods.json]\n")
    if len(argv) == 4:
        text = replace_once(text, "  scrape_interval: 15s\n", f"  scrape_interval: {argv[3]}\n")
        text = replace_once(text, "  evaluation_interval: 15s\n",
                            f"  evaluation_interval: {argv[3]}\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    shutil.copy(src.parent / "alerts.yml", out.parent / "alerts.yml")
    pods = out.parent / "pods.json"
    if not pods.exists():
        pods.write_text("[]\n", encoding="utf-8")
    print(f"wrote {out} (Kubernetes discovery -> {pods})")


if __name__ == "__main__":
    main(sys.argv[1:])

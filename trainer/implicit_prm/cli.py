"""Command line: python3 -m implicit_prm <command> --help"""
from __future__ import annotations

import argparse
import json
import os
import sys


def repo_root() -> str:
    d = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    return d


def rel_to_repo(path: str) -> str:
    return os.path.relpath(os.path.abspath(path), repo_root()).replace(os.sep, "/")


def cmd_make_test_bundles(a):
    from .golden import write_golden
    from .testbundles import make_test_bundles

    make_test_bundles(a.out)
    if a.golden_out:
        for name in ("tiny-logprobs", "tiny-logits", "tiny-ref-free"):
            bdir = os.path.join(a.out, name)
            write_golden(bdir, os.path.join(a.golden_out, f"{name}.json"), rel_to_repo(bdir))
    print(f"wrote test bundles under {a.out}")


def cmd_golden(a):
    from .golden import write_golden

    g = write_golden(a.bundle, a.out, a.bundle_dir or rel_to_repo(a.bundle))
    print(f"wrote {len(g['cases'])} cases to {a.out}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python3 -m implicit_prm", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("make-test-bundles", help="write the small random test bundles (+ golden files)")
    s.add_argument("--out", default=os.path.join(repo_root(), "test/fixtures/bundles"))
    s.add_argument("--golden-out", default=os.path.join(repo_root(), "test/fixtures/golden"))
    s.set_defaults(func=cmd_make_test_bundles)

    s = sub.add_parser("golden", help="golden fixture JSON for a bundle, computed in PyTorch")
    s.add_argument("--bundle", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--bundle-dir", default=None, help="value of the bundle_dir field (default: repo-relative path)")
    s.set_defaults(func=cmd_golden)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()

"""``smartframes verify``: every stored feature file checked against its checksum."""

from __future__ import annotations

import argparse

from .args import add_command

EXAMPLES = [
    "smartframes verify --store store",
    "smartframes extract labels.csv --store store --retry-failed",
]


def add_parser(subparsers, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Declare ``verify`` and its options."""
    p = add_command(subparsers, common, "verify", EXAMPLES, help="check every stored feature file against its checksum",
                    description="Read every finished video's feature file and compare it with the checksum "
                    "recorded when it was written; a corrupted or missing one is reported and marked failed, "
                    "so that `extract --retry-failed` computes it again. Exit status 1 when any was found.")
    p.add_argument("--store", required=True, help="store directory")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Verify the store, naming each bad file; 1 when any was found."""
    from ..features.store import FeatureStore

    with FeatureStore.open(args.store) as store:
        checked = store.count("done")
        bad = store.verify()
        for vid in bad:
            print(f"{store.feature_path(vid)}: {store.record(vid).error}")
    print(f"verify: {checked} finished videos checked, {len(bad)} corrupted or missing"
          + (f"; marked failed: `smartframes extract --retry-failed --store {args.store}` computes them again" if bad else ""))
    return 1 if bad else 0

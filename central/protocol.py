"""What the portal and the (mock) central service agree on: canonical JSON and checksums.

The full HTTP contract is the OpenAPI document ``central/mock/openapi.yaml``.
"""
import hashlib
import json

PROGRAMMES = ("PKH", "BPNT", "PBI")  # programmes the portal knows; anything else is refused


def canonical_json(obj) -> bytes:
    """The one byte form both sides hash: sorted keys, no spaces, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def checksum(obj) -> str:
    return hashlib.sha256(canonical_json(obj)).hexdigest()


def combined_checksum(page_checksums) -> str:
    """A batch's (or publication's) checksum: sha256 of its page checksums concatenated in page order."""
    return hashlib.sha256("".join(page_checksums).encode("ascii")).hexdigest()

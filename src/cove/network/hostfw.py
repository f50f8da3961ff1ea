"""Coexistence with a host firewall whose forward path drops (iptables' ``filter FORWARD``
with policy DROP, as on hosts running Docker, or Docker's ``DOCKER-USER`` chain).

An accept in cove's own table cannot override another table's drop, so when such a
chain exists cove inserts, at its top, two narrowly scoped accept rules per cove bridge
(``iifname BR accept`` and ``oifname BR accept``) tagged with the comment ``cove:BR``;
cove's own table still enforces isolation and ICC (a drop anywhere is final). Rules of
bridges that are gone are removed, so they leave with their network. Only ``ip filter``
(iptables-nft's table) is handled; iptables-legacy rules are not visible to nftables.

:func:`plan` is pure (ruleset JSON → nft script); :func:`sync` applies it in one
transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from cove.kernel import nft

FAMILY, TABLE = "ip", "filter"
TAG = "cove:"


def _target_chain(items: list[dict]) -> str:
    chains = {c["name"]: c for c in (i.get("chain") for i in items) if c}
    if "DOCKER-USER" in chains:
        return "DOCKER-USER"
    fwd = chains.get("FORWARD")
    if fwd and fwd.get("hook") == "forward" and fwd.get("policy") == "drop":
        return "FORWARD"
    return ""


def plan(ruleset: dict | None, bridges: Iterable[str]) -> str:
    """The nft script that makes the tagged accept rules match ``bridges`` ("" if none)."""
    items = (ruleset or {}).get("nftables", [])
    target = _target_chain(items)
    want = sorted(set(bridges)) if target else []
    have: dict[str, list[tuple[str, int]]] = {}
    for r in (i.get("rule") for i in items):
        if r and str(r.get("comment", "")).startswith(TAG):
            have.setdefault(r["comment"][len(TAG):], []).append((r["chain"], r["handle"]))
    lines = []
    for br, rules in sorted(have.items()):
        if br not in want or any(chain != target for chain, _ in rules) or len(rules) != 2:
            lines += [f"delete rule {FAMILY} {TABLE} {chain} handle {h}" for chain, h in rules]
            have[br] = []
    for br in want:
        if not have.get(br):
            for d in ("oifname", "iifname"):
                lines.append(f'insert rule {FAMILY} {TABLE} {target} {d} "{br}" counter'
                             f' accept comment "{TAG}{br}"')
    return "".join(line + "\n" for line in lines)


def sync(bridges: Iterable[str]) -> None:
    """Apply :func:`plan` to this namespace's ``ip filter`` table (absent: nothing)."""
    ruleset = nft.list_table(FAMILY, TABLE, as_json=True)
    if ruleset is None:
        return
    script = plan(ruleset, bridges)   # type: ignore[arg-type]
    if script:
        nft.run(script, what="allow cove's bridges through the host's FORWARD chain")

"""Legacy link removal, ``DELETE /containers/{parent}/{alias}?link=1``: the parent forgets
the ``--link`` whose alias is ``alias``: its record is saved (the next start no longer
sets the link's env variables) and the link's line leaves the parent's ``hosts`` file.
Both containers stay."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cove.engine import ports
from cove.errors import Conflict, NotFound
from cove.network import hostsedit
from cove.network.links import parse_link

if TYPE_CHECKING:
    from cove.engine.engine import Engine


async def remove_link(eng: Engine, name: str) -> None:
    """``name`` is ``[/]parent/alias`` as Docker's container names of links are."""
    parent_name, _, alias = name.strip("/").rpartition("/")
    if not parent_name:
        raise Conflict("Conflict, cannot remove the default link name")
    try:
        parent = eng.get_container(parent_name)
    except NotFound:
        raise NotFound(f"Cannot get parent /{parent_name} for link name /{name.strip('/')}"
                       ) from None
    async with eng._lock(parent.id):
        keep = [spec for spec in parent.config.links if parse_link(spec)[1] != alias]
        if len(keep) == len(parent.config.links):
            raise NotFound(f"No such container: {name.strip('/')}")
        before = ports.link_records(eng, parent)
        parent.config.links = keep
        eng._save(parent)
        gone = [r for r in before if r not in ports.link_records(eng, parent)]
        path = eng.container_dir(parent.id) / "hosts"
        try:
            text = path.read_text()
        except FileNotFoundError:
            return
        for ip, names in gone:
            text = hostsedit.remove_entry(text, ip, names)
        path.write_text(text)

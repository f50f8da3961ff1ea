"""``POST /commit``: a container's changes as a new image (``docker commit``,
docker-py's ``container.commit()``). Query: ``container``, ``repo``, ``tag``, ``comment``,
``author``, ``pause`` (default true), ``changes`` (Dockerfile instructions, repeatable);
the body is an optional container Config whose keys replace the image's. Answers 201
``{"Id": "sha256:..."}``."""

from __future__ import annotations

from aiohttp import web

from cove.api import parse
from cove.api.common import engine, json_response, read_json
from cove.errors import InvalidParameter
from cove.images.reference import validate_repo_tag


async def commit(request: web.Request) -> web.Response:
    q = request.query
    ref = q.get("container", "")
    if not ref:
        raise InvalidParameter("No container specified")  # the engine's NotFound wording
    repo_tag = ""
    if q.get("repo"):
        repo, tag = parse.repo_tag(q["repo"], q.get("tag", ""))
        repo_tag = validate_repo_tag(repo, tag)   # docker.io/library/x → x
    elif q.get("tag"):
        raise InvalidParameter("invalid reference format: a tag needs a repository")
    changes = [c for c in q.getall("changes", []) if c]
    config = await read_json(request)
    if config is not None and not isinstance(config, dict):
        raise InvalidParameter("invalid commit config: must be a JSON object")
    image = await engine(request).commit_container(
        ref, repo_tag=repo_tag, comment=q.get("comment", ""), author=q.get("author", ""),
        changes=changes, config=config or None,
        pause=parse.bool_value(q, "pause", True))
    return json_response({"Id": image.id}, status=201)


routes = [("POST", "/commit", commit)]

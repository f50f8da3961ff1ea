"""The CLI starts fast: none of its verbs may pull in the server side (aiohttp, api, engine)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("aiohttp", "cove.api", "cove.engine.engine", "pyroute2", "http.client")


def test_cli_modules_import_nothing_heavy():
    code = (
        "import sys, importlib\n"
        "import cove.cli.main\n"
        "for m in ('client', 'containers', 'misc', 'tables', 'template', 'networks',"
        " 'portspec', 'resources', 'imagearchive', 'flags'):\n"
        "    try:\n"
        "        importlib.import_module('cove.cli.' + m)\n"
        "    except ModuleNotFoundError:\n"
        "        pass\n"
        f"bad = [m for m in sys.modules if m.startswith({HEAVY!r})]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "", f"the CLI imports {out}"


def test_plain_run_does_not_load_port_parsing():
    code = (
        "import sys\n"
        "from cove.cli import containers\n"
        "from cove.cli.flags import parse\n"
        "opts, pos = parse(['--rm', 'busybox', 'true'], containers.RUN_FLAGS,"
        " interspersed=False, cmd='run')\n"
        "containers.create_body(opts, pos)\n"
        "print(','.join(m for m in ('re', 'ipaddress', 'typing', 'json') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "", f"a plain run imports {out}"

"""Start the Streamlit explorer from an installed interp: ``interp explore``.

The explorer's source is the repository's top-level ``apps/`` folder. A wheel ships it inside the
package as ``interp/_explorer_app/`` (``[tool.setuptools.package-dir]`` in ``pyproject.toml``),
found here with :mod:`importlib.resources`; in a source checkout (an editable install) it is
``apps/`` itself. ``interp explore`` runs the server as a child process, ``python -m streamlit run``
with the same interpreter; only the child's environment gets ``INTERP_MODEL``.

Streamlit serves every browser session from one process and has no login: whoever can reach the
address can use the explorer (load local model folders, read saved runs, upload files). So it binds
to the loopback address 127.0.0.1 by default; any other address is an explicit choice that prints
what it exposes.

Example:
    >>> from interp.explorer import explorer_command
    >>> argv, env = explorer_command(port=8502, model="tiny-gpt2")
    >>> argv[argv.index("--server.address") + 1], env
    ('127.0.0.1', {'INTERP_MODEL': 'tiny-gpt2'})
"""

from __future__ import annotations

import ipaddress
import os
import sys
from importlib import resources
from pathlib import Path

from interp.errors import InvalidParameterError, MissingExtraError

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "explorer_command", "explorer_entrypoint", "exposure_warning",
           "is_loopback"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501
MODEL_ENV_VAR = "INTERP_MODEL"  # the explorer's starting model (read by apps/_common.py)


def explorer_entrypoint() -> Path:
    """The explorer's Streamlit entrypoint, ``explorer.py``: inside the installed package, else in the source checkout.

    Raises:
        MissingExtraError: neither is there (an install made without the explorer's files).
    """
    package = resources.files("interp")
    installed = package / "_explorer_app" / "explorer.py"  # a wheel: the package data
    if installed.is_file():
        return Path(str(installed))
    checkout = Path(str(package)).parent  # an editable install: the repository holding interp/
    source = checkout / "apps" / "explorer.py"
    if source.is_file() and (checkout / "pyproject.toml").is_file():
        return source
    raise MissingExtraError(f"The explorer's files are not installed with interp: neither {installed} nor {source} "
                            "exists. Reinstall interp from a wheel or a source checkout (pip install .).")


def is_loopback(host: str) -> bool:
    """True if ``host`` is only reachable from this machine: ``localhost`` or a loopback IP (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to a network interface
        return False


def exposure_warning(host: str, port: int) -> str | None:
    """What serving on ``host`` exposes, or None for a loopback address."""
    if is_loopback(host):
        return None
    where = "every network interface of this machine" if host in ("0.0.0.0", "::") else f"the address {host}"
    return (f"warning: the explorer will listen on {where} (port {port}). Anyone who can reach it can use the "
            "explorer as you: load any local model folder, read saved runs and upload files. There is no login. "
            f"Use --host {DEFAULT_HOST} (the default) to serve this machine only.")


def explorer_command(*, port: int = DEFAULT_PORT, host: str = DEFAULT_HOST, model: str | None = None,
                     entrypoint: str | os.PathLike | None = None) -> tuple[list[str], dict[str, str]]:
    """The command line that serves the explorer, and the variables to add to the child's environment.

    Args:
        port: the TCP port, in [1, 65535].
        host: the address to bind; 127.0.0.1 serves this machine only.
        model: the starting model (a name or a model folder), passed as ``INTERP_MODEL``; None keeps
            the caller's ``INTERP_MODEL`` or the default model.
        entrypoint: the Streamlit script; default :func:`explorer_entrypoint`.

    Returns:
        ``(argv, env)``: ``python -m streamlit run explorer.py`` headless, without usage statistics,
        bound to ``host:port``; and ``{"INTERP_MODEL": model}`` or ``{}``.

    Raises:
        InvalidParameterError: a port outside [1, 65535], or an empty host or model.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidParameterError(f"The 'port' parameter of interp explore must be an int in [1, 65535]. Got {port!r} "
                                    "instead.")
    if not isinstance(host, str) or not host.strip() or any(c.isspace() for c in host):
        raise InvalidParameterError("The 'host' parameter of interp explore must be an address to bind, such as "
                                    f"{DEFAULT_HOST} (this machine only) or 0.0.0.0 (every interface). Got {host!r} instead.")
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise InvalidParameterError(f"The 'model' parameter of interp explore must be a model name or folder. Got {model!r} "
                                    "instead.")
    script = Path(entrypoint) if entrypoint is not None else explorer_entrypoint()
    argv = [sys.executable, "-m", "streamlit", "run", str(script),
            "--server.address", host, "--server.port", str(port),
            "--server.headless", "true",  # no browser is opened, no e-mail prompt on a first run
            "--browser.gatherUsageStats", "false"]
    return argv, ({MODEL_ENV_VAR: model} if model is not None else {})

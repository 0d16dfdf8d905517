"""The topology jar, built from the streamparse DSL without leiningen: what ``lein jar`` made.

It holds ``resources/`` (the core package's Python code, which the supervisor extracts into each
worker's directory; ``streamparse_run`` imports the components from there), the topology's Flux
YAML (for ``storm jar <jar> org.apache.storm.flux.Flux --remote <yaml>``) and Flux's own classes (a
worker deserializes ``FluxShellSpout``/``FluxShellBolt`` when Flux submitted it). Entries are
sorted and dated 1980-01-01, so the same code gives the same bytes, and the jar is named by their
hash: resubmitting unchanged code is recognised by the name.
"""

from __future__ import annotations

import copy
import hashlib
import io
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PACKAGE_DIR = Path(__file__).resolve().parents[1]
FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def streamparse_run() -> str:
    """The absolute ``streamparse_run`` of this interpreter's environment: workers run it as is."""
    return str(Path(sys.executable).parent / "streamparse_run")


def thrift_topology(topology: Any, *, command: str) -> Any:
    """A copy of the DSL's Thrift topology whose Python components run ``command``."""
    thrift = copy.deepcopy(topology.thrift_topology)
    for component in [*thrift.spouts.values(), *thrift.bolts.values()]:
        shell = (component.spout_object if hasattr(component, "spout_object") else component.bolt_object).shell
        if shell is not None and shell.execution_command == "streamparse_run":
            shell.execution_command = command
    return thrift


def flux_definition(topology: Any, *, name: str, command: str, conf: dict[str, Any]) -> dict[str, Any]:
    flux = topology.to_flux_dict(name)
    for component in [*flux.get("spouts", []), *flux.get("bolts", [])]:
        args = component["constructorArgs"]
        if args and args[0] and args[0][0] == "streamparse_run":
            args[0][0] = command
    flux["config"] = conf
    return flux


@dataclass(frozen=True)
class TopologyJar:
    path: Path
    sha256: str


def _entries(flux_yaml: bytes, flux_core_jar: Path | None) -> dict[str, bytes]:
    entries = {}
    for source in sorted(PACKAGE_DIR.rglob("*.py")):
        entries[f"resources/{PACKAGE_DIR.name}/{source.relative_to(PACKAGE_DIR).as_posix()}"] = source.read_bytes()
    entries["topology.yaml"] = flux_yaml
    if flux_core_jar is not None:
        with zipfile.ZipFile(flux_core_jar) as flux:
            for info in flux.infolist():
                if info.filename.startswith("org/apache/storm/flux/") and not info.is_dir():
                    entries[info.filename] = flux.read(info)
    return entries


def build_jar(topology: Any, *, name: str, conf: dict[str, Any], out_dir: Path,
              flux_core_jar: Path | None = None, command: str | None = None) -> TopologyJar:
    """Write ``<name>-<hash>.jar`` into ``out_dir`` (kept if it already exists) and return it.

    :param topology: the streamparse ``Topology`` class.
    :param name: the topology's name (the jar's prefix and the Flux YAML's name).
    :param conf: the topology config the Flux YAML carries.
    :param out_dir: where jars are kept.
    :param flux_core_jar: flux-core's jar, whose ``org/apache/storm/flux`` classes are copied in.
    :param command: what workers run for Python components (default: :func:`streamparse_run`).
    """
    command = command or streamparse_run()
    flux_yaml = yaml.safe_dump(flux_definition(topology, name=name, command=command, conf=conf),
                               sort_keys=True).encode()
    entries = _entries(flux_yaml, flux_core_jar)
    digest = hashlib.sha256()
    for path, data in sorted(entries.items()):
        digest.update(path.encode() + b"\0" + hashlib.sha256(data).digest())
    sha = digest.hexdigest()
    jar = out_dir / f"{name}-{sha[:16]}.jar"
    if not jar.exists():
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path, data in sorted(entries.items()):
                archive.writestr(zipfile.ZipInfo(path, date_time=FIXED_DATE), data, zipfile.ZIP_DEFLATED)
        out_dir.mkdir(parents=True, exist_ok=True)
        partial = jar.with_suffix(".jar.tmp")
        partial.write_bytes(buffer.getvalue())
        partial.rename(jar)
    return TopologyJar(jar, sha)

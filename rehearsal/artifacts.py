"""The layer and the code archive as Lambda will see them: the files the program built for real and registered
(`build_layer=True`, no shortcut), read back from their zips. Every wheel's platform tag must run on Amazon Linux
2023 for the stage's architecture, every shared object must be an ELF of that architecture needing no GLIBC symbol
newer than 2.34, sizes within Lambda's limits, and the layer's hash the same when another machine (another
interpreter, another directory) builds it.
"""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

from components.offline import OfflinePlan
from components.packaging import LAMBDA_GLIBC, MACHINES, Artifact, build_layer
from components.stack import PYTHON_VERSION
from rehearsal.result import Result

MB = 1024 * 1024
DIRECT_UPLOAD_LIMIT = 50 * MB  # a zip sent in the API call (Pulumi uploads the layer and the code that way)
UNZIPPED_LIMIT = 250 * MB  # function code and all its layers, unzipped
ELF_MACHINES = {"arm64": "EM_AARCH64", "x86_64": "EM_X86_64"}
MANYLINUX = re.compile(r"^(manylinux(?:1|2010|2014)|manylinux_(\d+)_(\d+))_(\w+)$")
LEGACY_MANYLINUX_GLIBC = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def registered(plan: OfflinePlan) -> tuple[Artifact, Artifact, str]:
    """The code archive, the layer and the architecture exactly as the program registered them (the plan of a
    run with `build_layer=True`): the files and hashes Pulumi would upload, not a rebuild."""
    layer = plan.one("aws:lambda/layerVersion:LayerVersion", "dependencies").inputs
    function = plan.of_type("aws:lambda/function:Function")[0].inputs
    return (Artifact(Path(function["code"].path), function["sourceCodeHash"]),
            Artifact(Path(layer["code"].path), layer["sourceCodeHash"]), layer["compatibleArchitectures"][0])


def check(code: Artifact, layer: Artifact, architecture: str) -> Result:
    result = Result(f"artifacts: layer and code for Lambda python3.12 {architecture} (Amazon Linux 2023)")
    with zipfile.ZipFile(layer.path) as archive:
        result.problems += wheel_tag_problems(archive, architecture)
        result.problems += shared_object_problems(archive, architecture)
        layer_unzipped = sum(info.file_size for info in archive.infolist())
    with zipfile.ZipFile(code.path) as archive:
        code_unzipped = sum(info.file_size for info in archive.infolist())
    for name, artifact in (("layer", layer), ("code archive", code)):
        size = artifact.path.stat().st_size
        if size > DIRECT_UPLOAD_LIMIT:
            result.problems.append(f"the {name} zip is {size / MB:.1f} MB, over Lambda's 50 MB direct upload")
    if layer_unzipped + code_unzipped > UNZIPPED_LIMIT:
        result.problems.append(f"code + layer unzip to {(layer_unzipped + code_unzipped) / MB:.1f} MB, over "
                               "Lambda's 250 MB")
    result.figures.append(f"layer {layer.path.stat().st_size / MB:.1f} MB zipped, {layer_unzipped / MB:.1f} MB "
                          f"unzipped; code {code.path.stat().st_size / 1024:.0f} kB zipped, "
                          f"{code_unzipped / 1024:.0f} kB unzipped (limits 50 MB / 250 MB)")
    return result


def reproducibility(project_root: Path, layer: Artifact, architecture: str, other_python: str) -> Result:
    """Build the layer again elsewhere with another interpreter: same inputs must give the same hash."""
    result = Result("artifacts: the layer's hash does not depend on the machine that built it")
    with tempfile.TemporaryDirectory(prefix="mumble-other-machine-") as other:
        again = build_layer(project_root / "functions" / "requirements.txt", Path(other), PYTHON_VERSION, architecture,
                            python=other_python)
        if again.sha256_b64 != layer.sha256_b64:
            result.problems.append(
                f"the layer built by {other_python} in another directory hashes {again.sha256_b64}, not "
                f"{layer.sha256_b64}: every deploy from another machine would republish the layer and all "
                "functions (look for builder paths or timestamps in the layer)")
    result.figures.append(f"layer sha256 {layer.sha256_b64} (also built with {other_python})")
    return result


def wheel_tag_problems(archive: zipfile.ZipFile, architecture: str) -> list[str]:
    problems = []
    for name in sorted(n for n in archive.namelist() if n.endswith(".dist-info/WHEEL")):
        tags = [line.split(":", 1)[1].strip() for line in archive.read(name).decode().splitlines()
                if line.startswith("Tag:")]
        if not any(_tag_runs(tag, architecture) for tag in tags):
            problems.append(f"{name.split('/')[1]}: wheel tags {', '.join(tags)} do not run on Lambda python3.12 "
                            f"{architecture} (Amazon Linux 2023, glibc {'.'.join(map(str, LAMBDA_GLIBC))})")
    return problems


def _tag_runs(tag: str, architecture: str) -> bool:
    interpreters, abi, platforms = tag.split("-")
    return (any(_interpreter_runs(i, abi) for i in interpreters.split("."))
            and abi in ("none", "abi3", "cp312")
            and (platforms == "any" or any(_platform_runs(p, architecture) for p in platforms.split("."))))


def _interpreter_runs(interpreter: str, abi: str) -> bool:
    """py3 / py312 / cp312 as such; cp3X with the stable ABI when X <= 12."""
    if interpreter in ("py3", "py312", "cp312"):
        return True
    match = re.fullmatch(r"cp3(\d+)", interpreter)
    return bool(match) and abi == "abi3" and int(match.group(1)) <= 12


def _platform_runs(platform: str, architecture: str) -> bool:
    match = MANYLINUX.match(platform)
    if not match or match.group(4) != MACHINES[architecture]:
        return False
    glibc = LEGACY_MANYLINUX_GLIBC.get(match.group(1)) or (int(match.group(2)), int(match.group(3)))
    return glibc <= LAMBDA_GLIBC


def shared_object_problems(archive: zipfile.ZipFile, architecture: str) -> list[str]:
    problems = []
    for name in sorted(n for n in archive.namelist() if re.search(r"\.so(\.\d+)*$", n)):
        try:
            elf = ELFFile(io.BytesIO(archive.read(name)))
        except ELFError:
            problems.append(f"{name}: not an ELF shared object")
            continue
        if elf["e_machine"] != ELF_MACHINES[architecture]:
            problems.append(f"{name}: built for {elf['e_machine']}, not {architecture}")
            continue
        newest = max(_glibc_versions(elf), default=None)
        if newest and newest > LAMBDA_GLIBC:
            problems.append(f"{name}: needs GLIBC_{'.'.join(map(str, newest))}, newer than Lambda's 2.34")
    return problems


def _glibc_versions(elf: ELFFile) -> list[tuple[int, ...]]:
    versions = []
    for section in elf.iter_sections():
        if isinstance(section, GNUVerNeedSection):
            for _, auxiliaries in section.iter_versions():
                for aux in auxiliaries:
                    match = re.fullmatch(r"GLIBC_(\d+(?:\.\d+)+)", aux.name)
                    if match:
                        versions.append(tuple(int(part) for part in match.group(1).split(".")))
    return versions

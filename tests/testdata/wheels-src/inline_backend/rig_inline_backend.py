"""A tiny PEP 517/660 build backend for rig's tests: builds wheels and editable wheels offline.

Reads [project] name, version, dependencies and optional-dependencies from pyproject.toml and
packs src/ (or, for an editable install, a .pth file pointing at src/).
"""
import base64
import hashlib
import os
import tomllib
import zipfile


def _project() -> dict:
    with open("pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["project"]


def _metadata(project: dict) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
    ]
    lines += [f"Requires-Dist: {r}" for r in project.get("dependencies", [])]
    for extra, requirements in project.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {r} ; extra == "{extra}"' for r in requirements]
    return "\n".join(lines) + "\n"


def _hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _build(wheel_directory: str, editable: bool) -> str:
    project = _project()
    dist = f"{project['name'].replace('-', '_')}-{project['version']}"
    files: dict[str, bytes] = {}
    if editable:
        files[f"__editable__.{dist}.pth"] = (os.path.abspath("src") + "\n").encode()
    else:
        for root, _, names in os.walk("src"):
            for name in names:
                if name.endswith(".py"):
                    full = os.path.join(root, name)
                    with open(full, "rb") as handle:
                        files[os.path.relpath(full, "src").replace(os.sep, "/")] = handle.read()
    files[f"{dist}.dist-info/METADATA"] = _metadata(project).encode()
    files[f"{dist}.dist-info/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: rig-inline\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = f"{dist}.dist-info/RECORD"
    text = "".join(f"{path},{_hash(data)},{len(data)}\n" for path, data in files.items())
    files[record] = (text + f"{record},,\n").encode()
    name = f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _build(wheel_directory, editable=False)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _build(wheel_directory, editable=True)


def build_sdist(sdist_directory, config_settings=None):
    raise NotImplementedError("rig's test backend builds wheels only")

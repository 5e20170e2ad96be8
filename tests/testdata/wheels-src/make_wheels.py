"""Builds tiny pure-Python wheels for rig's install tests, without network or build backends.

Usage: python3 make_wheels.py OUT_DIR < spec.json
spec.json: [{"name": "rigdemo-a", "version": "1.0", "requires": ["rigdemo-b<2"], "scripts": {"rigdemo-a": "rigdemo_a:main"}}]
"""
import base64
import hashlib
import json
import os
import sys
import zipfile


def record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def build(out_dir: str, spec: dict) -> str:
    name, version = spec["name"], spec["version"]
    module = name.replace("-", "_")
    dist = f"{module}-{version}"
    files = {
        f"{module}/__init__.py": (
            f'__version__ = "{version}"\n\n'
            "def main():\n"
            f'    print("{name} {version}")\n'
        ).encode(),
    }
    meta = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: rig test package {name}",
    ]
    meta += [f"Requires-Dist: {r}" for r in spec.get("requires", [])]
    files[f"{dist}.dist-info/METADATA"] = ("\n".join(meta) + "\n").encode()
    files[f"{dist}.dist-info/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: rig-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    ).encode()
    scripts = spec.get("scripts", {})
    if scripts:
        lines = ["[console_scripts]"] + [f"{k} = {v}" for k, v in scripts.items()]
        files[f"{dist}.dist-info/entry_points.txt"] = ("\n".join(lines) + "\n").encode()
    record_name = f"{dist}.dist-info/RECORD"
    record = "".join(f"{path},{record_hash(data)},{len(data)}\n" for path, data in files.items())
    record += f"{record_name},,\n"
    files[record_name] = record.encode()
    wheel = os.path.join(out_dir, f"{dist}-py3-none-any.whl")
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            info = zipfile.ZipInfo(path, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return wheel


def main() -> None:
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    for spec in json.load(sys.stdin):
        print(build(out_dir, spec))


if __name__ == "__main__":
    main()

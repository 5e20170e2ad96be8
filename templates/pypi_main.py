"""rig {{RIG_VERSION}} from PyPI: runs the bundled rig (rig.js beside this file)
with the Deno binary of the "deno" PyPI package this package depends on."""

import os
import subprocess
import sys


def main() -> None:
    try:
        from deno import find_deno_bin

        deno = find_deno_bin()
    except Exception as error:  # the package is missing or has no binary for this OS
        sys.stderr.write(f'error: Cannot find the Deno binary of the "deno" package: {error}\n')
        sys.stderr.write("hint: Reinstall this package (pip install {{PYPI_PACKAGE}}), or install Deno\n")
        sys.exit(3)
    bundle = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rig.js")
    argv = [deno, "run", "-A", "--no-config", "--quiet", bundle, *sys.argv[1:]]
    env = dict(os.environ, DENO_NO_UPDATE_CHECK="1", DENO_NO_PACKAGE_JSON="1")
    if os.name == "nt":
        sys.exit(subprocess.call(argv, env=env))
    # Replace this process: signals and the exit code are deno's own.
    os.execve(deno, argv, env)


if __name__ == "__main__":
    main()

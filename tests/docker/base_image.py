"""Makes the base image our Dockerfile's FROM names, locally: no registry is reachable here.

debootstrap a minimal Debian of that release, slim it the way the official -slim images are, and
`docker import` it under the exact tag. The build machine's CA bundle goes in as well, so that pip and uv inside
the build trust the same certificates as the machine does (a registry proxy may sign with its own).

    python tests/docker/base_image.py            # make it if it is missing
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MIRROR = "http://deb.debian.org/debian"
HOST_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
BUNDLE_IN_IMAGE = "/etc/ssl/certs/build-host-bundle.crt"
SLIMMED = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "var/cache/apt/archives",
           "var/lib/apt/lists")


def base_tag() -> str:
    match = re.search(r"^FROM\s+(\S+)", (REPO / "Dockerfile").read_text(), re.MULTILINE)
    if not match:
        raise SystemExit("Dockerfile has no FROM line")
    return match.group(1)


def image_exists(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


def make(tag: str) -> None:
    release = tag.split(":")[1].removesuffix("-slim")
    if shutil.which("debootstrap") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "debootstrap"], check=True)
    with tempfile.TemporaryDirectory(prefix="migration-check-rootfs-", dir="/var/tmp") as folder:
        root = Path(folder) / "root"
        subprocess.run(["debootstrap", "--variant=minbase", release, str(root), MIRROR], check=True,
                       stdout=subprocess.DEVNULL)
        for relative in SLIMMED:
            target = root / relative
            if target.is_dir():
                for child in target.iterdir():
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
        changes = ["--change", "CMD [\"bash\"]"]
        if HOST_BUNDLE.is_file():
            bundle = root / BUNDLE_IN_IMAGE.lstrip("/")
            bundle.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(HOST_BUNDLE, bundle)
            for name in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
                changes += ["--change", f"ENV {name}={BUNDLE_IN_IMAGE}"]
        archive = Path(folder) / "rootfs.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(root, arcname=".")
        subprocess.run(["docker", "import", *changes, str(archive), tag], check=True, stdout=subprocess.DEVNULL)


def ensure() -> str:
    tag = base_tag()
    if not image_exists(tag):
        make(tag)
    return tag


if __name__ == "__main__":
    print(ensure(), file=sys.stdout)

#!/usr/bin/env python3
"""The systemd-boot guest's copy of the host's dpkg database, made small: every package stays known with its status,
control files and maintainer scripts, but each files list (info/NAME.list) keeps only the directories the lane's
packages install into (/, /usr, /usr/bin …), so dpkg still sees those as shared and never removes them, and one path
of the package's own, so dpkg does not take the package for replaced by the lane's. dpkg reads
every files list on each run ("Reading database ... 150 000 files"): under TCG that took about half of each apt
install's time. md5sums (read only by dpkg --verify) are left out.
Usage: dpkg-database.py SOURCE DEST PACKAGE.deb…  (prints how many list lines it kept)"""
import os
import shutil
import subprocess
import sys

source, dest, debs = sys.argv[1], sys.argv[2], sys.argv[3:]
keep = {"/."}
for deb in debs:
    listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True, check=True).stdout
    for line in listing.splitlines():
        path = line.split(None, 5)[5].split(" -> ")[0].lstrip(".").rstrip("/")
        while path:
            keep.add(path)
            path = path.rsplit("/", 1)[0]
shutil.copytree(source, dest, symlinks=True, ignore=shutil.ignore_patterns("*.list", "*.md5sums", "*-old", "lock*"))
total = kept = 0
for name in os.listdir(os.path.join(source, "info")):
    if not name.endswith(".list"):
        continue
    with open(os.path.join(source, "info", name), encoding="utf-8", errors="surrogateescape") as listed:
        lines = listed.read().splitlines()
    shared = [line for line in lines if line in keep]
    # And one path of the package's own: a package whose every listed path the new package also ships counts as
    # "completely replaced" and dpkg drops it from the database (and rewrites the database for each one).
    own = [line for line in lines if line not in keep]
    shared += own[-1:]
    total += len(lines)
    kept += len(shared)
    with open(os.path.join(dest, "info", name), "w", encoding="utf-8", errors="surrogateescape") as trimmed:
        trimmed.write("".join(line + "\n" for line in shared))
print(f"dpkg database for the guest: {kept} of {total} files-list lines kept ({dest})")

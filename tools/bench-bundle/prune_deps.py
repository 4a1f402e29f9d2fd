"""Removes from each *.deps.json in the given folders the assets whose files are not in that folder, so the .NET host
starts an app or framework that was trimmed of assemblies it never loads (it refuses one whose manifest lists a
missing file). Usage: prune_deps.py FOLDER...; used by pack.sh."""
import json
import os
import sys


def present(folder, kind, path, asset):
    if kind == "runtimeTargets":  # runtimes/<rid>/...: kept where they are
        return os.path.exists(os.path.join(folder, path))
    if kind == "resources":  # <locale>/<name>.resources.dll
        return os.path.exists(os.path.join(folder, asset.get("locale", ""), os.path.basename(path)))
    # runtime and native assets of packages and projects are copied flat into the output folder
    return os.path.exists(os.path.join(folder, os.path.basename(path))) or os.path.exists(os.path.join(folder, path))


def prune(folder, manifest):
    with open(manifest, encoding="utf-8") as f:
        deps = json.load(f)
    removed = 0
    for libraries in deps.get("targets", {}).values():
        for library in libraries.values():
            for kind in ("runtime", "native", "resources", "runtimeTargets"):
                assets = library.get(kind)
                if not assets:
                    continue
                for path in [p for p, a in assets.items() if not present(folder, kind, p, a)]:
                    del assets[path]
                    removed += 1
    with open(manifest, "w", encoding="utf-8") as f:
        json.dump(deps, f, indent=2)
    print(f"{manifest}: {removed} missing assets unlisted")


for folder in sys.argv[1:]:
    for name in sorted(os.listdir(folder)):
        if name.endswith(".deps.json"):
            prune(folder, os.path.join(folder, name))

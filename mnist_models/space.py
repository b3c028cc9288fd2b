"""Publish the demo to a Hugging Face Space: exactly the files it needs, binaries through the Hub's large-file storage.

    python -m mnist_models.space --space user/name --dry-run    # list what would go, and the total size
    python -m mnist_models.space --space user/name              # upload (needs `huggingface-cli login` or HF_TOKEN)

`make space SPACE=user/name [DRY_RUN=1]` runs the same. huggingface_hub's upload stores the checkpoints
and images in the Hub's large-file storage itself; a plain `git push` of this repository is rejected
("contains binary files") unless git-lfs is set up, see .gitattributes.
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What the Space runs and shows: the app and its tabs, the package, the committed results, the card.
INCLUDE = ["demo.py", "tabs/*.py", "mnist_models/*.py", "checkpoints/*.safetensors", "checkpoints/*.json",
           "checkpoints/tuned/*.safetensors", "checkpoints/tuned/*.json",
           "experiments/*.json", "requirements.txt", "README.md", "docs/*.png", "docs/figures/*.png"]


def space_files(root=ROOT):
    """-> sorted [(path relative to root, bytes)] of what a Space needs; never venvs, data, caches or tests."""
    files = {p for pattern in INCLUDE for p in Path(root).glob(pattern) if p.is_file()}
    files = {p for p in files if "__pycache__" not in p.parts and not p.name.endswith(".tmp")}
    return sorted((p.relative_to(root).as_posix(), p.stat().st_size) for p in files)


def describe(files):
    lines = [f"{size:>12,}  {path}" for path, size in files]
    total = sum(size for _, size in files)
    return "\n".join(lines + [f"{total:>12,}  bytes in {len(files)} files ({total / 2**20:.1f} MiB)"])


def publish(space, files, root=ROOT, token=None):
    """Create the Space if needed (Gradio SDK) and upload `files` as one commit; -> the commit URL."""
    from huggingface_hub import CommitOperationAdd, HfApi
    api = HfApi(token=token)
    api.create_repo(space, repo_type="space", space_sdk="gradio", exist_ok=True)
    operations = [CommitOperationAdd(path_in_repo=path, path_or_fileobj=str(Path(root) / path)) for path, _ in files]
    commit = api.create_commit(space, operations=operations, repo_type="space",
                               commit_message="Publish the MNIST model zoo demo")
    return commit.commit_url


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m mnist_models.space", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--space", required=True, help="user/name of the Space (created if it does not exist)")
    p.add_argument("--dry-run", action="store_true", help="list the files and the total size; upload nothing")
    args = p.parse_args(argv)
    if "/" not in args.space:
        sys.exit(f"--space {args.space!r}: expected user/name")
    files = space_files()
    print(describe(files))
    if args.dry_run:
        print(f"dry run: nothing uploaded to spaces/{args.space}")
        return 0
    print(f"uploaded: {publish(args.space, files)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

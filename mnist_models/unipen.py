"""The UNIPEN train_r01_v07 release (CC BY 4.0) -> the digits file the project reads (dev-digits.jsonl.gz).

    python -m mnist_models unipen RELEASE_DIR --out dev-digits.jsonl.gz

Reads RELEASE_DIR/data/1a/<source>/**/*.dat (isolated digits): each file's `.INCLUDE`d pen data and its
`.SEGMENT ... "d"` labels. Writes one JSON object a line: label, source, writer_file, strokes (pen-down
only, in drawing order, y pointing down, the digit's box moved to (0, 0)).
"""
import gzip
import json
import re
from pathlib import Path

SEGMENT = re.compile(r'^\.SEGMENT\s+\S+\s+(\S+)\s+(\S+)\s+"(.*)"')


class UnipenError(ValueError):
    pass


def statements(path, include_dirs, depth=0):
    """Yield (keyword, argument text, data lines) of a UNIPEN file, its .INCLUDEs followed in place."""
    if depth > 8:
        raise UnipenError(f"{path}: .INCLUDE nested too deeply (a loop?)")
    keyword, argument, data = None, "", []
    for line in Path(path).read_text(encoding="latin-1").splitlines():
        if line.startswith("."):
            if keyword == ".INCLUDE":
                yield from statements(find_include(argument, path, include_dirs), include_dirs, depth + 1)
            elif keyword:
                yield keyword, argument, data
            keyword, _, argument = line.strip().partition(" ")
            argument, data = argument.strip(), []
        elif keyword and line.strip():
            data.append(line)
    if keyword == ".INCLUDE":
        yield from statements(find_include(argument, path, include_dirs), include_dirs, depth + 1)
    elif keyword:
        yield keyword, argument, data


def find_include(name, including, include_dirs):
    for folder in [*include_dirs, Path(including).parent]:
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    raise UnipenError(f"{including}: .INCLUDE {name} not found in {', '.join(map(str, include_dirs))}")


def components(spec):
    """'0-1', '4', '3,5,7-8' -> the pen-down stroke numbers; 'i:p' point ranges are taken as whole strokes."""
    numbers = []
    for part in spec.split(","):
        first, _, last = part.partition("-")
        first, last = int(first.split(":")[0]), int((last or first).split(":")[0])
        numbers.extend(range(first, last + 1))
    return numbers


def digits_in_file(path, include_dirs):
    """-> [(label, strokes)] for every segment of one digit in one .dat file, in file order."""
    strokes, found = [], []
    for keyword, argument, data in statements(path, include_dirs):
        if keyword == ".PEN_DOWN":
            strokes.append([[float(v) for v in line.split()[:2]] for line in data])
        elif keyword == ".SEGMENT":
            m = SEGMENT.match(f"{keyword} {argument}")
            if not m or len(m[3]) != 1 or not m[3].isdigit() or m[2].upper() == "BAD":
                continue
            chosen = [strokes[i] for i in components(m[1]) if i < len(strokes) and strokes[i]]
            if chosen:
                found.append((int(m[3]), chosen))
    return found


def normalised(strokes):
    """Tablet units, y up -> y down (screen convention), the digit's box starting at (0, 0)."""
    xs = [x for s in strokes for x, _ in s]
    ys = [y for s in strokes for _, y in s]
    left, top = min(xs), max(ys)
    return [[[x - left, top - y] for x, y in s] for s in strokes]


def convert(release, out):
    """RELEASE_DIR (train_r01_v07) -> OUT (.jsonl.gz); -> {source: number of digits}."""
    release = Path(release)
    digits_dir = release / "data" / "1a"
    if not digits_dir.is_dir():
        raise UnipenError(f"{release}: no data/1a/ folder; expected the UNIPEN train_r01_v07 release unpacked there")
    counts = {}
    with gzip.open(out, "wt") as f:
        for path in sorted(digits_dir.rglob("*.dat")):
            writer_file = path.relative_to(digits_dir).as_posix()
            source = writer_file.split("/")[0]
            for label, strokes in digits_in_file(path, [release / "include"]):
                f.write(json.dumps(dict(label=label, source=source, writer_file=writer_file,
                                        strokes=normalised(strokes))) + "\n")
                counts[source] = counts.get(source, 0) + 1
    return counts

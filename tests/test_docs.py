"""README.md and docs/*.md: every code block runs or is checked, and every link resolves.

- A block that is not meant to run has ``<!-- illustrative -->`` on the line right before its fence.
- Python blocks: the README's quick start runs here on a generated clip; the two in
  docs/python-api.md run in tests/test_readme.py; any other must be marked illustrative. Every
  Python block, illustrative or not, must compile, and every ``sf.NAME`` the pages mention must exist.
- Shell blocks (sh, bash, shell), line by line (continuations joined, comments dropped):
  ``smartframes ...`` lines must parse with the real command line, each optional part and each
  alternative of a usage line in turn (``[--opt X]``, ``a|b``, ``(A | B)``; an upper-case
  placeholder such as ``N`` or ``NAME`` stands for a valid value of its option);
  ``python benchmarks/X.py ...`` lines need the script and each of their ``--options`` in it;
  ``make T`` lines need target T in the Makefile. Lines with shell variables or pipes, and commands
  of other tools (pip, ray), are reported as skipped with the reason. The README's quick-start
  commands also run, on the generated clip.
- Links and images: relative targets exist, ``#anchors`` name a heading of their page (GitHub's
  slugs), images are under 200 kB, http(s) links are well formed (nothing is fetched).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest

import smartframes
from smartframes.cli.main import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARK = "<!-- illustrative -->"
SHELL = {"sh", "bash", "shell"}
# Python blocks run elsewhere or here, by (page, heading); tests/test_readme.py names the first two.
RUN_BY_TEST_README = {("docs/python-api.md", "## Use with a video-language model"),
                      ("docs/python-api.md", "## Use your own recogniser")}
QUICK_START = ("README.md", "## Quick start")
IMAGE_LIMIT = 200_000


@dataclass(frozen=True)
class Block:
    page: str  # relative to the repository root
    line: int  # of the opening fence, 1-based
    lang: str
    heading: str  # the nearest heading above, as written ("## Quick start")
    code: str
    illustrative: bool


def read_blocks(path: Path) -> list[Block]:
    lines = path.read_text().split("\n")
    found, heading, i = [], "", 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            start, lang = i, line[3:].strip()
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                i += 1
            if i == len(lines):
                raise AssertionError(f"{path.name}:{start + 1}: code fence never closed")
            marked = start > 0 and lines[start - 1].strip() == MARK
            found.append(Block(str(path.relative_to(ROOT)), start + 1, lang, heading,
                               "\n".join(lines[start + 1:i]) + "\n", marked))
        elif re.match(r"#{1,6} ", line):
            heading = line.strip()
        i += 1
    return found


BLOCKS = [b for page in PAGES for b in read_blocks(page)]
PYTHON = [b for b in BLOCKS if b.lang == "python"]


def block_under(page: str, heading: str, lang: str) -> Block:
    matches = [b for b in BLOCKS if (b.page, b.heading, b.lang) == (page, heading, lang)]
    assert matches, f"no {lang} block under {heading!r} in {page}"
    return matches[0]


# ----------------------------------------------------------------------------------------- Python


def test_the_pages_have_code():
    assert len(PAGES) >= 8 and any(b.lang in SHELL for b in BLOCKS) and PYTHON


@pytest.mark.parametrize("block", PYTHON, ids=lambda b: f"{b.page}:{b.line}")
def test_python_block_runs_somewhere_or_is_illustrative(block):
    runs = (block.page, block.heading) in RUN_BY_TEST_README | {QUICK_START}
    assert runs or block.illustrative, (
        f"{block.page}:{block.line} (under {block.heading!r}) is run by no test: run it in "
        f"tests/test_docs.py or tests/test_readme.py, or put {MARK} on the line before its fence")
    compile(block.code, f"{block.page}:{block.line}", "exec")


def test_the_blocks_test_readme_runs_are_where_it_looks():
    source = (ROOT / "tests" / "test_readme.py").read_text()
    for page, heading in RUN_BY_TEST_README:
        assert f'"{page}"' in source and f'"{heading}"' in source, (page, heading)
        assert not block_under(page, heading, "python").illustrative


def test_every_illustrative_mark_stands_before_a_fence():
    for page in PAGES:
        lines = page.read_text().split("\n")
        for n, line in enumerate(lines):
            if MARK in line:
                assert line.strip() == MARK and n + 1 < len(lines) and lines[n + 1].startswith("```"), \
                    f"{page.name}:{n + 1}: {MARK} must stand alone on the line right before a code fence"


def test_every_sf_name_the_pages_use_exists():
    names = {m for page in PAGES for m in re.findall(r"\bsf\.([A-Za-z_]\w*)", page.read_text())}
    assert names and sorted(n for n in names if not hasattr(smartframes, n)) == []


def test_readme_quick_start_python_runs(noise_clip, tmp_path):
    block = block_under(*QUICK_START, "python")
    assert len(block.code.strip().split("\n")) < 10
    code = block.code.replace('"clip.mp4"', repr(str(noise_clip)))
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()) as out:
        exec(compile(code, f"{block.page}:{block.line}", "exec"), namespace)
    chosen = namespace["chosen"]
    assert len(chosen.indices) == 8 and str(chosen.indices) in out.getvalue()
    saved = sorted(tmp_path.glob("frame_*s.jpg"))  # the test runs in tmp_path (conftest)
    assert len(saved) == 8


def test_readme_quick_start_commands_run(noise_clip, tmp_path, capsys):
    block = block_under(*QUICK_START, "sh")
    commands = [argv for _, argv in shell_commands(block)]
    assert commands and all(argv[0] == "smartframes" for argv in commands)
    for argv in commands:
        argv = [str(noise_clip) if a == "clip.mp4" else a for a in argv[1:]]
        assert main(argv) == 0, argv
    assert (tmp_path / "sheet.jpg").stat().st_size > 0
    assert '"indices"' in capsys.readouterr().out


# ------------------------------------------------------------------------------------------ shell


def shell_commands(block: Block) -> list[tuple[int, list[str] | str]]:
    """(line, argv) for each command of a shell block; argv is the raw text where it cannot be split."""
    out, pending, first = [], "", 0
    for n, raw in enumerate(block.code.split("\n"), start=block.line + 1):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not pending:
            first = n
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text, pending = (pending + line).strip(), ""
        if not text:
            continue
        try:
            out.append((first, shlex.split(text)))
        except ValueError:
            out.append((first, text))
    return out


def shell_params():
    params = []
    for block in BLOCKS:
        if block.lang not in SHELL or block.illustrative:
            continue
        for line, argv in shell_commands(block):
            where = f"{block.page}:{line}"
            text = argv if isinstance(argv, str) else " ".join(argv)
            reason = None
            if isinstance(argv, str) or "$" in text or "`" in text:
                reason = f"{where}: shell variables or quoting that cannot be split: {text}"
            elif Path(argv[0]).name not in ("smartframes", "make") and not is_benchmark(argv):
                reason = f"{where}: not a smartframes command ({argv[0]}): {text}"
            marks = [pytest.mark.skip(reason=reason)] if reason else []
            params.append(pytest.param(block, argv, id=where, marks=marks))
    return params


def is_benchmark(argv: list[str]) -> bool:
    return Path(argv[0]).name.startswith("python") and len(argv) > 1 and argv[1].startswith("benchmarks/")


@pytest.mark.parametrize("block, argv", shell_params())
def test_shell_command_is_real(block, argv):
    name = Path(argv[0]).name
    if name == "make":
        targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))
        assert set(argv[1:]) <= targets, f"no such make target: {argv[1:]}"
    elif name == "smartframes":
        check_usage_line(argv[1:])
    else:
        script = ROOT / argv[1]
        assert script.is_file(), f"{argv[1]} does not exist"
        source = script.read_text()
        missing = [o for o in re.findall(r"(--[a-z][a-z0-9-]*)", " ".join(argv[2:])) if f'"{o}"' not in source]
        assert not missing, f"{argv[1]} has no option {missing}"


# A usage line: [optional], (A | B) one of, a|b one of the values, upper-case placeholders.
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*(\.\.\.)?$")


def parse_usage(tokens: list[str], i: int = 0, close: str | None = None):
    alternatives, seq = [], []
    while i < len(tokens):
        t = tokens[i]
        if t in ("[", "("):
            inner, i = parse_usage(tokens, i + 1, "]" if t == "[" else ")")
            seq.append(("optional" if t == "[" else "one of", inner))
            continue
        if t in ("]", ")"):
            assert t == close, f"unbalanced {t!r}"
            alternatives.append(seq)
            return alternatives, i + 1
        if t == "|":
            alternatives.append(seq)
            seq = []
        elif "|" in t and not t.startswith("-"):
            seq.append(("one of", [[v] for v in t.split("|")]))
        else:
            seq.append(t)
        i += 1
    assert close is None, f"{close!r} missing"
    alternatives.append(seq)
    return alternatives, i


def renderings(node) -> list[list[str]]:
    """The ways to write one part of a usage line, the least first."""
    if isinstance(node, str):
        return [[node]]
    kind, alternatives = node
    out = [[]] if kind == "optional" else []
    for seq in alternatives:
        out += sequence_renderings(seq)
    return out


def sequence_renderings(seq) -> list[list[str]]:
    """The least argument list, then one more for each optional part and each alternative."""
    each = [renderings(node) for node in seq]
    out = [[t for r in each for t in r[0]]]
    for k, ways in enumerate(each):
        for way in ways[1:]:
            out.append([t for j, r in enumerate(each) for t in (way if j == k else r[0])])
    return out


def usage_variants(args: list[str]) -> list[list[str]]:
    text = " ".join(args)
    tokens = shlex.split(re.sub(r"([\[\]()])", r" \1 ", text))
    alternatives, _ = parse_usage(tokens)
    if len(alternatives) > 1:
        pytest.skip(f"a pipe or top-level alternative cannot be parsed: smartframes {text}")
    unique = []
    for argv in sequence_renderings(alternatives[0]):
        if argv not in unique:
            unique.append(argv)
    return unique


def subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(name)
    return None


def valid(action: argparse.Action, value: str) -> bool:
    try:
        converted = action.type(value) if callable(action.type) else value
    except (ValueError, TypeError, argparse.ArgumentTypeError):
        return False
    return not action.choices or converted in action.choices


def concrete(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """Placeholders replaced: an option's by a value it takes, a positional's ``NAME...`` by ``NAME``."""
    sub = subparser(parser, argv[0]) if argv else None
    options = {**parser._option_string_actions, **(sub._option_string_actions if sub else {})}
    out = list(argv)
    for i, token in enumerate(out):
        if PLACEHOLDER.match(token):
            action = options.get(out[i - 1]) if i else None
            if action is not None and action.nargs != 0:
                samples = [token, *(action.choices or []), "1", "1.0"]
                out[i] = next((s for s in samples if valid(action, s)), token)
            else:
                out[i] = token.removesuffix("...")
    return out


def check_usage_line(args: list[str]) -> None:
    parser = build_parser()
    for argv in usage_variants(args):
        argv = concrete(argv, parser)
        errors, parsed = io.StringIO(), None
        with contextlib.suppress(SystemExit), contextlib.redirect_stderr(errors):
            parsed = parser.parse_args(argv)
        if parsed is None:
            pytest.fail(f"`smartframes {' '.join(argv)}` does not parse: {errors.getvalue().strip()}")
        assert parsed.command is not None, f"no command in `smartframes {' '.join(argv)}`"


# ------------------------------------------------------------------------------------------ links


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but - and _ dropped, spaces to -."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading.lstrip("#").strip())
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out, fence = set(), False
    for line in path.read_text().split("\n"):
        if line.startswith("```"):
            fence = not fence
        elif not fence and re.match(r"#{1,6} ", line):
            base = slug(line)
            count = seen.get(base, 0)
            seen[base] = count + 1
            out.add(base if count == 0 else f"{base}-{count}")
    return out


def prose(text: str) -> str:
    """The text outside code: fenced blocks and inline code blanked, line breaks kept."""
    text = re.sub(r"^```.*?^```", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S | re.M)
    return re.sub(r"`[^`]+`", lambda m: "\n" * m.group(0).count("\n"), text)


LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]*)(?:\s+\"[^\"]*\")?\)")


def links(path: Path) -> list[tuple[int, bool, str]]:
    text = prose(path.read_text())
    return [(text.count("\n", 0, m.start()) + 1, m.group(1) == "!", m.group(3)) for m in LINK.finditer(text)]


def link_params():
    return [pytest.param(page, line, image, target, id=f"{page.relative_to(ROOT)}:{line}:{target}")
            for page in PAGES for line, image, target in links(page)]


def test_the_pages_link_to_each_other():
    targets = {target.split("#")[0] for _, _, target in links(ROOT / "README.md")}
    for page in PAGES[1:]:
        assert str(page.relative_to(ROOT)) in targets, f"README.md does not link to {page.name}"


@pytest.mark.parametrize("page, line, image, target", link_params())
def test_link_resolves(page, line, image, target):
    where = f"{page.relative_to(ROOT)}:{line}: {target!r}"
    url = urlparse(target)
    if url.scheme:
        assert url.scheme in ("http", "https") and "." in url.netloc and not image, f"{where}: not a web link"
        return
    assert target, f"{where}: empty link"
    file, _, anchor = target.partition("#")
    resolved = (page.parent / file).resolve() if file else page
    assert resolved.exists(), f"{where}: {resolved} does not exist"
    assert resolved.is_relative_to(ROOT), f"{where}: points outside the repository"
    if anchor:
        assert resolved.suffix == ".md", f"{where}: an anchor into a file that is not markdown"
        assert anchor in anchors(resolved), f"{where}: no heading with the anchor #{anchor} in {resolved.name}"
    if image:
        assert resolved.suffix.lower() in (".png", ".jpg", ".jpeg", ".gif", ".svg"), f"{where}: not an image"
        assert resolved.stat().st_size < IMAGE_LIMIT, f"{where}: {resolved.stat().st_size} bytes"

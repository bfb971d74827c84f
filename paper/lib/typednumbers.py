"""Checks that the paper's LaTeX source types no number by hand: every
number the text quotes comes from a macro lib/gen.py writes (gen/macros.tex)
or from a generated table (\\input{gen/...}). A run of digits left in the
text is a finding, unless a line of the allow-list says why it may stay.

usage: typednumbers.py TEX ALLOWLIST

Not text, and so not checked: comments; the preamble (except the arguments
of \\title, \\author and \\date); the arguments of the commands in ARGS
(labels, keys, file names, lengths, definitions); a \\begin's arguments
(placement, column specs); dimensions such as 0.8in or 0.49\\textwidth; the
body of a picture environment (coordinates). Macro names are letters only,
so they hold no digits. Each maximal digit run is a finding: 5.2 is two.

ALLOWLIST has one entry a line, a Python regex, whitespace, '#' and the
reason the number may be typed (blank lines and lines starting with '#' are
comments):

  \\bC11\\b  # the language standard's name

An entry allows a digit run if the regex matches a span of its source line
(comments stripped) that contains the run. An entry without a reason, and
an entry that allows nothing in TEX, are errors: the list cannot rot.

Prints one line per finding (TEX:LINE: typed number 'NN' in: TEXT) and a
summary; exits 1 if anything was found.

(Not named numbers.py: in this folder that would hide the standard library's
numbers module from gen.py, whose statistics import needs it.)
"""
import re
import sys

# Commands whose arguments are not text: how many mandatory arguments each
# takes. Optional [...] arguments before or between them are skipped too.
ARGS = {
    "label": 1, "ref": 1, "pageref": 1, "eqref": 1, "cite": 1,
    "input": 1, "include": 1, "includegraphics": 1,
    "bibliography": 1, "bibliographystyle": 1,
    "usepackage": 1, "documentclass": 1,
    "setcounter": 2, "addtocounter": 2,
    "newcommand": 2, "renewcommand": 2,
    "setlength": 2, "addtolength": 2, "hspace": 1, "vspace": 1,
}
COMMAND = re.compile(r"\\(" + "|".join(ARGS) + r"|begin)(?![A-Za-z])\*?")
# What a preamble holds that is printed.
PRINTED = re.compile(r"\\(?:title|author|date)(?![A-Za-z])")
# A length: a number with a TeX unit or times a length register.
DIMENSION = re.compile(
    r"\d*\.?\d+(?:(?:pt|bp|pc|in|cm|mm|em|ex|dd|cc|sp)(?![A-Za-z])"
    r"|\\(?:textwidth|columnwidth|linewidth|textheight|paperwidth|paperheight|unitlength|baselineskip)(?![A-Za-z]))")
# A control sequence, as a command's argument (\newcommand\x{...}).
TOKEN = re.compile(r"\\(?:[A-Za-z]+|.)", re.S)
PICTURE = re.compile(r"\\begin\{picture\}.*?\\end\{picture\}", re.S)


def strip_comment(line):
    """LINE without its comment: from the first % no backslash escapes."""
    i = 0
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        if line[i] == "%":
            return line[:i]
        i += 1
    return line


def group_end(text, i):
    """The index after the group that opens at TEXT[i] ('{' or '['),
    nesting braces; len(TEXT) if it does not close."""
    close = "}" if text[i] == "{" else "]"
    depth = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        if depth == 0 and c == close:
            return i + 1
        i += 1
    return len(text)


def args_end(text, i, count):
    """The index after the arguments that follow a command ending at I:
    COUNT mandatory ones ({...} or a bare control sequence) and any
    optional [...] among them. COUNT None (\\begin) takes every group that
    follows at once, without space: the environment's name, placement and
    column spec."""
    while count is None or count > 0:
        j = i
        if count is not None:
            while j < len(text) and text[j].isspace():
                j += 1
        if j < len(text) and text[j] == "[":
            i = group_end(text, j)
        elif j < len(text) and text[j] == "{":
            i = group_end(text, j)
            if count is not None:
                count -= 1
        elif count and text.startswith("\\", j):
            i = TOKEN.match(text, j).end()
            count -= 1
        else:
            break
    return i


def masked(text):
    """TEXT with everything that is not checked blanked to spaces (newlines
    kept, so positions and line numbers stay)."""
    out = list(text)

    def blank(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    begin = text.find("\\begin{document}")
    if begin >= 0:
        blank(0, begin)
        for m in PRINTED.finditer(text, 0, begin):
            b = args_end(text, m.end(), 1)
            out[m.end():b] = text[m.end():b]
    for m in PICTURE.finditer(text):
        blank(m.start(), m.end())
    for m in COMMAND.finditer(text):
        blank(m.end(), args_end(text, m.end(), ARGS.get(m.group(1))))
    for m in DIMENSION.finditer("".join(out)):
        blank(m.start(), m.end())
    return "".join(out)


def parse_allow(lines):
    """The allow-list's entries as (line number, regex source, compiled),
    and its errors."""
    entries, errors = [], []
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        # The regex ends at the first '#' after whitespace.
        m = re.match(r"(.*?)\s+#(.*)", line)
        regex, reason = (m.group(1), m.group(2).strip()) if m else (line, "")
        if not reason:
            errors.append(f"{n}: entry '{regex}' gives no reason (REGEX  # why this number may be typed)")
            continue
        try:
            entries.append((n, regex, re.compile(regex)))
        except re.error as e:
            errors.append(f"{n}: entry '{regex}' is not a regex: {e}")
    return entries, errors


def allowed(line, a, b, pattern):
    """Whether PATTERN matches a span of LINE that contains LINE[a:b]."""
    for start in range(a + 1):
        m = pattern.match(line, start)
        if m and m.end() >= b:
            return True
    return False


def findings(source, entries):
    """The typed numbers in SOURCE as (line number, digits, line without its
    comment), and the line numbers of the ENTRIES that allowed one."""
    lines = [strip_comment(line) for line in source.split("\n")]
    text = "\n".join(lines)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    found, used = [], set()
    line_no = 0
    for m in re.finditer(r"\d+", masked(text)):
        while starts[line_no + 1] <= m.start():
            line_no += 1
        line = lines[line_no]
        a, b = m.start() - starts[line_no], m.end() - starts[line_no]
        ok = [e for e in entries if allowed(line, a, b, e[2])]
        used.update(e[0] for e in ok)
        if not ok:
            found.append((line_no + 1, m.group(), line.strip()))
    return found, used


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    tex, allow = sys.argv[1], sys.argv[2]
    with open(tex) as f:
        source = f.read()
    with open(allow) as f:
        entries, errors = parse_allow(f.read().split("\n"))
    errors = [f"{allow}:{e}" for e in errors]
    found, used = findings(source, entries)
    for n, regex, _ in entries:
        if n not in used:
            errors.append(f"{allow}:{n}: entry '{regex}' allows no number in {tex}: remove it")
    for n, digits, line in found:
        print(f"{tex}:{n}: typed number '{digits}' in: {line}")
    for e in errors:
        print(e)
    if found or errors:
        print(f"typednumbers.py: {len(found)} typed numbers in {tex}, {len(errors)} allow-list errors: "
              f"generate the numbers (lib/gen.py) or say in {allow} why they may be typed")
        sys.exit(1)
    print(f"typednumbers.py: no typed numbers in {tex} ({len(entries)} allow-list entries)")


if __name__ == "__main__":
    main()

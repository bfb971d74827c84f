"""Self-test of typednumbers.py, the typed-number check of the
paper's source, on small LaTeX fixtures. Run by paper/check.

usage: test_numbers.py [-v]"""
import os
import subprocess
import sys
import tempfile
import unittest

LIB = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, LIB)
import typednumbers as tn  # noqa: E402


def typed(tex, allow=""):
    """The digit runs typednumbers.py reports in TEX under the allow-list ALLOW."""
    entries, errors = tn.parse_allow(allow.split("\n"))
    assert not errors, errors
    found, _ = tn.findings(tex, entries)
    return [digits for _, digits, _ in found]


def run(tex, allow):
    """typednumbers.py's exit status and output on files holding TEX and ALLOW."""
    with tempfile.TemporaryDirectory() as d:
        for name, text in (("t.tex", tex), ("allow.txt", allow)):
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        p = subprocess.run([sys.executable, os.path.join(LIB, "typednumbers.py"), "t.tex", "allow.txt"],
                           cwd=d, capture_output=True, text=True)
    return p.returncode, p.stdout


class Findings(unittest.TestCase):
    def test_typed_number_caught(self):
        self.assertEqual(typed("toc runs 1.8$\\times$ cms"), ["1", "8"])

    def test_macro_names_hold_no_digits(self):
        self.assertEqual(typed("toc runs \\hlTocOverCms$\\times$ cms, \\schSwitch\\,ns"), [])

    def test_comments_ignored(self):
        self.assertEqual(typed("text % 42 was measured\n50\\% of it"), ["50"])

    def test_keys_files_and_lengths_ignored(self):
        self.assertEqual(typed("as in~\\cite{toc16,pacer21} (Table~\\ref{tab:x2})\\label{fig:3}\n"
                               "\\input{gen/tab-1.tex}\\includegraphics[width=0.49\\textwidth]{gen/f2.pdf}\n"
                               "\\setlength{\\tabcolsep}{4.5pt}\\hspace*{2em}\\newcommand{\\s}[2]{\\put(#1,0){x}}"),
                         [])

    def test_begin_arguments_ignored(self):
        tex = ("\\begin{table}[t]\n\\begin{tabular}{@{}p{0.15\\columnwidth}r@{}}\n"
               "a & 7 \\\\\n\\end{tabular}\\end{table}")
        self.assertEqual(typed(tex), ["7"])

    def test_picture_body_ignored(self):
        tex = "\\begin{picture}(210,92)(0,-38)\n\\put(0,22){slot 3}\n\\end{picture}\nafter 4"
        self.assertEqual(typed(tex), ["4"])

    def test_preamble_skipped_but_title_checked(self):
        tex = ("\\documentclass[10pt]{article}\n\\usepackage[margin=0.8in]{geometry}\n"
               "\\setcounter{dbltopnumber}{3}\n\\title{Collection:\\\\ 2 ways}\n"
               "\\begin{document}\nbody")
        self.assertEqual(typed(tex), ["2"])

    def test_allow_list_span_must_contain_the_run(self):
        self.assertEqual(typed("a C11 runtime, 11 times", "\\bC11\\b  # the standard"), ["11"])


class AllowList(unittest.TestCase):
    def test_entry_without_reason_rejected(self):
        for line in ("C11", "C11  #", "C11  #   "):
            entries, errors = tn.parse_allow([line])
            self.assertEqual(entries, [])
            self.assertEqual(len(errors), 1, line)
        status, out = run("a C11 runtime", "C11\n")
        self.assertEqual(status, 1)
        self.assertIn("allow.txt:1: entry 'C11' gives no reason", out)

    def test_unused_entry_rejected(self):
        status, out = run("a C11 runtime", "# comment\n\nC11  # the standard\nx86  # an architecture\n")
        self.assertEqual(status, 1)
        self.assertIn("allow.txt:4: entry 'x86' allows no number in t.tex", out)
        self.assertNotIn("typed number '", out)

    def test_clean_source_passes(self):
        status, out = run("a C11 runtime runs \\hlTocOverCms$\\times$ % 1.8\n", "C11  # the standard\n")
        self.assertEqual(status, 0, out)

    def test_finding_format(self):
        status, out = run("line one\nruns 3 times\n", "")
        self.assertEqual(status, 1)
        self.assertIn("t.tex:2: typed number '3' in: runs 3 times\n", out)


if __name__ == "__main__":
    unittest.main()

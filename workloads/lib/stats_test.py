"""Self-test of the harness's statistics (stats.py) and of the summary
summarize_tx.py writes from them: ctest stats_selftest. Pure Python, no
benchmark runs; every sample is fixed or drawn from a seeded generator.

usage: stats_test.py [-v]"""
import json
import os
import random
import subprocess
import sys
import tempfile
import unittest

LIB = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, LIB)
import stats  # noqa: E402


def width(c):
    return c["ci95_high"] - c["ci95_low"]


def gauss(n, seed, mu=100.0, sigma=10.0):
    rng = random.Random(seed)
    return [rng.gauss(mu, sigma) for _ in range(n)]


class MedianCI(unittest.TestCase):
    def test_known_sample(self):
        c = stats.median_ci([10, 11, 12, 13, 14])
        self.assertEqual(c["median"], 12)
        self.assertEqual(c["runs"], 5)
        self.assertLessEqual(c["ci95_low"], 12)
        self.assertGreaterEqual(c["ci95_high"], 12)
        # The median of a resample is one of the runs: the bounds lie inside their range.
        self.assertGreaterEqual(c["ci95_low"], 10)
        self.assertLessEqual(c["ci95_high"], 14)
        self.assertLess(c["ci95_low"], c["ci95_high"])

    def test_deterministic(self):
        x = gauss(7, 1)
        self.assertEqual(stats.median_ci(x), stats.median_ci(list(x)))
        self.assertEqual(stats.ratio_ci(x, gauss(7, 2)), stats.ratio_ci(x, gauss(7, 2)))

    def test_narrows_with_more_runs(self):
        few, many = stats.median_ci(gauss(5, 3)), stats.median_ci(gauss(100, 3))
        self.assertLess(width(many), width(few) / 2)
        for c in (few, many):
            self.assertLessEqual(c["ci95_low"], c["median"])
            self.assertGreaterEqual(c["ci95_high"], c["median"])

    def test_covers_the_true_median(self):
        # 200 experiments of 15 runs each from N(100, 10): 181 of the
        # intervals contain 100 (a percentile bootstrap of a median runs a
        # little narrow at small n: the medians of resamples take few values).
        hits = 0
        for i in range(200):
            c = stats.median_ci(gauss(15, 1000 + i), 2000)
            hits += c["ci95_low"] <= 100 <= c["ci95_high"]
        self.assertGreaterEqual(hits, 170)
        self.assertLessEqual(hits, 200)

    def test_too_few_runs_has_no_interval(self):
        c = stats.median_ci([1.0, 2.0, 3.0, 4.0])
        self.assertEqual(c, {"median": 2.5, "ci95_low": None, "ci95_high": None, "runs": 4})
        self.assertFalse(stats.wide(c))

    def test_unknown_values_left_out(self):
        c = stats.median_ci([None, 5, 5, 5, 5, 5, None])
        self.assertEqual((c["median"], c["ci95_low"], c["ci95_high"], c["runs"]), (5, 5, 5, 5))
        self.assertEqual(stats.median_ci([None, None])["median"], None)


class RatioCI(unittest.TestCase):
    def test_constant_sides(self):
        c = stats.ratio_ci([6.0] * 5, [3.0] * 5)
        self.assertEqual((c["median"], c["ci95_low"], c["ci95_high"], c["runs"]), (2.0, 2.0, 2.0, 5))

    def test_contains_the_ratio(self):
        a, b = gauss(8, 4, mu=200), gauss(8, 5)
        c = stats.ratio_ci(a, b)
        self.assertAlmostEqual(c["median"], stats.median(a) / stats.median(b))
        self.assertLess(c["ci95_low"], c["median"])
        self.assertGreater(c["ci95_high"], c["median"])
        self.assertLess(c["ci95_high"], 3)
        self.assertGreater(c["ci95_low"], 1.4)

    def test_sides_resampled_independently(self):
        # The same runs on both sides: resampled together the interval would be [1, 1].
        x = gauss(10, 6)
        c = stats.ratio_ci(x, x)
        self.assertEqual(c["median"], 1.0)
        self.assertLess(c["ci95_low"], 1.0)
        self.assertGreater(c["ci95_high"], 1.0)

    def test_zero_or_few(self):
        self.assertIsNone(stats.ratio_ci([1] * 5, [0] * 5)["median"])
        c = stats.ratio_ci([2] * 5, [1] * 3)
        self.assertEqual((c["median"], c["ci95_low"], c["runs"]), (2.0, None, 3))


class DifferenceCI(unittest.TestCase):
    def test_constant_sides(self):
        c = stats.difference_ci([6.0] * 5, [3.5] * 5)
        self.assertEqual((c["median"], c["ci95_low"], c["ci95_high"], c["runs"]), (2.5, 2.5, 2.5, 5))

    def test_contains_the_difference(self):
        a, b = gauss(8, 4, mu=30, sigma=2), gauss(8, 3, mu=20, sigma=2)
        c = stats.difference_ci(a, b)
        self.assertAlmostEqual(c["median"], stats.median(a) - stats.median(b))
        self.assertLess(c["ci95_low"], c["median"])
        self.assertGreater(c["ci95_high"], c["median"])
        self.assertGreater(c["ci95_low"], 0)

    def test_sides_resampled_independently(self):
        x = gauss(10, 6)
        c = stats.difference_ci(x, x)
        self.assertEqual(c["median"], 0.0)
        self.assertLess(c["ci95_low"], 0.0)
        self.assertGreater(c["ci95_high"], 0.0)

    def test_few_runs(self):
        c = stats.difference_ci([2] * 5, [1] * 3)
        self.assertEqual((c["median"], c["ci95_low"], c["runs"]), (1, None, 3))
        self.assertIsNone(stats.difference_ci([], [1] * 5)["median"])


class CellText(unittest.TestCase):
    def test_forms(self):
        self.assertEqual(stats.cell_text(stats.cell(1.234, 1.1, 1.4, 5)), "1.23 [1.10, 1.40]")
        self.assertEqual(stats.cell_text(stats.cell(1.234, 1.1, 1.4, 5), mark_wide=True), "1.23 [1.10, 1.40]*")
        self.assertEqual(stats.cell_text(stats.cell(100, 99, 101, 5), ".0f", mark_wide=True), "100 [99, 101]")
        self.assertEqual(stats.cell_text(stats.cell(2.5, None, None, 3), ".3f"), "2.500")
        self.assertEqual(stats.cell_text(stats.cell(None, None, None, 0)), "-")


class Wide(unittest.TestCase):
    def test_marks(self):
        self.assertFalse(stats.wide(stats.cell(100, 96, 104, 5)))
        self.assertTrue(stats.wide(stats.cell(100, 94, 101, 5)))
        self.assertTrue(stats.wide(stats.cell(100, 99, 106, 5)))
        self.assertFalse(stats.wide(stats.cell(0, 0, 0, 5)))
        self.assertTrue(stats.wide(stats.cell(0, 0, 1, 5)))
        self.assertTrue(stats.wide(stats.median_ci([50, 100, 150, 200, 250])))
        self.assertFalse(stats.wide(stats.median_ci([100, 100.5, 101, 99.5, 99])))


class Schedule(unittest.TestCase):
    MODES = ["toc", "cms", "stw", "boehm", "arena", "go1.26", "go1.26-nogreenteagc", "go1.19"]

    def test_permutations_seeded(self):
        s = stats.schedule(7, 10, self.MODES)
        self.assertEqual(s, stats.schedule(7, 10, self.MODES))
        self.assertNotEqual(s, stats.schedule(8, 10, self.MODES))
        self.assertEqual(len(s), 10)
        for r in s:
            self.assertEqual(sorted(r), sorted(self.MODES))

    def test_not_a_rotation(self):
        s = stats.schedule(7, 10, self.MODES)
        first = s[0]
        rotations = [first[k:] + first[:k] for k in range(len(first))]
        self.assertTrue(any(r not in rotations for r in s[1:]))
        self.assertGreater(len({r[0] for r in s}), 3)   # many modes go first


class Summary(unittest.TestCase):
    def test_summary_cells(self):
        rng = random.Random(9)
        modes = {"toc": 100000, "cms": 60000, "go1.26": 80000}
        with tempfile.TemporaryDirectory() as d:
            runs = os.path.join(d, "runs.jsonl")
            with open(runs, "w") as f:
                for i in range(6):
                    for m, tps in modes.items():
                        res = {"txn_per_sec": tps * rng.uniform(0.99, 1.01), "gc_cpu_us_per_txn": 5.0,
                               "gc_cpu_seconds": 1.0 * rng.uniform(0.9, 1.1), "allocated_mb": 1000.0,
                               "gc_cycles": 10, "txn_p99_us": 100, "stw_max_us": 50, "peak_rss_mb": 500,
                               "toc_reclaimed_fraction": 0.99}
                        f.write(json.dumps({"mode": m, "run": i + 1, "seed": 3, "result": res,
                                            "go_version": "go1.26.8" if m.startswith("go") else None}) + "\n")
            out = os.path.join(d, "summary.json")
            p = subprocess.run([sys.executable, os.path.join(LIB, "summarize_tx.py"), runs, out],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(out) as f:
                s = json.load(f)
        self.assertEqual(s["seed"], 3)
        self.assertEqual(s["go_versions"], {"go1.26": "go1.26.8"})
        for m in modes:
            c = s["modes"][m]["txn_per_sec"]
            self.assertEqual(set(c), {"median", "ci95_low", "ci95_high", "runs"})
            self.assertEqual(c["runs"], 6)
            self.assertLessEqual(c["ci95_low"], c["median"])
            self.assertLessEqual(c["median"], c["ci95_high"])
        r = s["ratio_to_cms"]["toc"]["txn_per_sec"]
        self.assertLess(r["ci95_low"], 100000 / 60000)
        self.assertGreater(r["ci95_high"], 100000 / 60000 - 0.05)
        self.assertNotIn("cms", s["ratio_to_cms"])
        self.assertIn("gc_ms_per_mib", s["cms_over_go"]["go1.26"])
        # GC CPU varies +-10%: its cells are wide, throughput's (+-1%) are not.
        wide = {w["mode"]: w["figures"] for w in s["wide_ci"]}
        self.assertIn("gc_ms_per_mib", wide["cms"])
        self.assertNotIn("txn_per_sec", wide.get("cms", []))
        self.assertIn("intervals wider than", p.stdout)


if __name__ == "__main__":
    unittest.main()

"""The harness's statistics: the seeded random order of the modes in each
round, and medians with bootstrap 95% confidence intervals (workloads/bench,
summarize_tx.py, sweep.py).

Order. Each round runs every mode once, in an order drawn afresh from one
seeded generator (schedule()): a drift of the machine over the run (another
tenant, a warming cache, thermal state) then lands on the modes at random
instead of always on the same neighbour, as a fixed or rotated order would
have it. The seed is recorded with the results; the same seed gives the same
orders.

Intervals. The method benchstat used: a figure's n runs are resampled with
replacement RESAMPLES times, the median of each resample taken, and the
2.5th and 97.5th percentiles of those medians bound the interval. For a
ratio of two medians both sides are resampled independently and the ratio
of each pair of medians taken. The resampling generator starts from
BOOTSTRAP_SEED at every call, so summarizing the same runs prints the same
intervals. Under MIN_RUNS runs no interval is given (None): the median of a
resample of 3 runs takes only 3 values, and its "interval" would be the
range of the runs, not a confidence interval.

A cell is {"median", "ci95_low", "ci95_high", "runs"}; cell() makes one and
wide() says whether its interval reaches past +-WIDE of its median.

usage (for shell scripts): stats.py schedule SEED ROUNDS MODE...
  prints one line per round: the modes, space-separated, in that round's order"""
import random
import statistics
import sys

MIN_RUNS = 5           # fewer runs: no interval
RESAMPLES = 10000      # bootstrap resamples per interval
BOOTSTRAP_SEED = 20    # the resampling generator's seed, fixed: reproducible summaries
WIDE = 0.05            # an interval past +-5% of its median is marked wide


def schedule(seed, rounds, modes):
    """The order of the modes in each of ROUNDS rounds: a list of lists,
    each a permutation of MODES drawn from a generator seeded with SEED."""
    rng = random.Random(seed)
    order = []
    for _ in range(rounds):
        r = list(modes)
        rng.shuffle(r)
        order.append(r)
    return order


def known(vals):
    return [v for v in vals if v is not None]


def median(vals):
    vals = known(vals)
    return statistics.median(vals) if vals else None


def percentile(sorted_vals, q):
    """The q-quantile (0..1) of sorted values, linearly interpolated."""
    pos = q * (len(sorted_vals) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (pos - lo)


def resampled_medians(vals, rng, resamples):
    n = len(vals)
    return [statistics.median(rng.choices(vals, k=n)) for _ in range(resamples)]


def interval(estimates):
    s = sorted(estimates)
    return percentile(s, 0.025), percentile(s, 0.975)


def cell(med, low, high, runs):
    return {"median": med, "ci95_low": low, "ci95_high": high, "runs": runs}


def median_ci(vals, resamples=RESAMPLES):
    """The median of VALS (None values left out) and its bootstrap 95% interval."""
    vals = known(vals)
    med = median(vals)
    if len(vals) < MIN_RUNS:
        return cell(med, None, None, len(vals))
    rng = random.Random(BOOTSTRAP_SEED)
    return cell(med, *interval(resampled_medians(vals, rng, resamples)), len(vals))


def ratio_ci(num, den, resamples=RESAMPLES):
    """median(NUM) / median(DEN) and its bootstrap 95% interval, both sides
    resampled independently; runs is the smaller side's count. None where
    the denominator's median is 0 or unknown."""
    num, den = known(num), known(den)
    a, b = median(num), median(den)
    runs = min(len(num), len(den))
    if a is None or not b:
        return cell(None, None, None, runs)
    if runs < MIN_RUNS:
        return cell(a / b, None, None, runs)
    rng = random.Random(BOOTSTRAP_SEED)
    ratios = [x / y for x, y in zip(resampled_medians(num, rng, resamples), resampled_medians(den, rng, resamples))
              if y]
    # A resample whose denominator median is 0 has no ratio; too many of
    # those and the interval would describe a different population.
    if len(ratios) < 0.99 * resamples:
        return cell(a / b, None, None, runs)
    return cell(a / b, *interval(ratios), runs)


def difference_ci(a, b, resamples=RESAMPLES):
    """median(A) - median(B) and its bootstrap 95% interval, both sides
    resampled independently; runs is the smaller side's count."""
    a, b = known(a), known(b)
    runs = min(len(a), len(b))
    if not a or not b:
        return cell(None, None, None, runs)
    d = median(a) - median(b)
    if runs < MIN_RUNS:
        return cell(d, None, None, runs)
    rng = random.Random(BOOTSTRAP_SEED)
    return cell(d, *interval([x - y for x, y in zip(resampled_medians(a, rng, resamples),
                                                     resampled_medians(b, rng, resamples))]), runs)


def cell_text(c, spec=".2f", mark_wide=False):
    """A cell as 'median [low, high]' in format spec, 'median' alone without
    an interval, '-' without a median; with mark_wide, a '*' after an
    interval wider than +-WIDE."""
    if c["median"] is None:
        return "-"
    text = format(c["median"], spec)
    if c["ci95_low"] is not None:
        text += f" [{format(c['ci95_low'], spec)}, {format(c['ci95_high'], spec)}]"
        if mark_wide and wide(c):
            text += "*"
    return text


def wide(c, limit=WIDE):
    """Whether cell C's interval reaches past +-LIMIT of its median (a
    median of 0 with a non-zero bound is wide)."""
    m, lo, hi = c["median"], c["ci95_low"], c["ci95_high"]
    if m is None or lo is None or hi is None:
        return False
    if m == 0:
        return lo != 0 or hi != 0
    return (m - lo) > limit * abs(m) or (hi - m) > limit * abs(m)


def main(argv):
    if len(argv) >= 4 and argv[1] == "schedule":
        try:
            seed, rounds = int(argv[2]), int(argv[3])
        except ValueError:
            sys.exit("stats.py schedule: SEED and ROUNDS are integers")
        for r in schedule(seed, rounds, argv[4:]):
            print(" ".join(r))
        return
    sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)

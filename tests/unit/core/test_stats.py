"""The kit's statistics (qmu_kit.core.stats) against known answers (its docstring examples: test_docstrings)."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import qmu_kit.core.stats as stats
from qmu_kit.core.stats import (Estimate, auc, bootstrap, crossed_bootstrap, mean, mean_auc_vs_chance, mean_of_estimates, paired_difference,
                                proportion, tpr_at_fpr)


def test_wilson_matches_the_textbook_values():
    # Wilson's score interval for 0/30 and 15/30 (Newcombe 1998's formula, computed by hand).
    zero = proportion(0, 30)
    assert zero.value == 0 and zero.ci95[0] == 0 and zero.ci95[1] == pytest.approx(0.1135, abs=1e-4)
    half = proportion(15, 30)
    assert half.ci95 == pytest.approx((0.3315, 0.6685), abs=1e-4)
    assert np.isnan(proportion(0, 0).value)
    with pytest.raises(ValueError, match="successes=5 of n=3"):
        proportion(5, 3)


def test_wilson_covers_the_truth_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    hits = [proportion(rng.binomial(40, 0.2), 40).contains(0.2) for _ in range(4000)]
    assert 0.91 <= np.mean(hits) <= 0.98  # Wilson coverage oscillates with n and p around 95 %


def test_auc_agrees_with_sklearn_and_delong_covers():
    rng = np.random.default_rng(1)
    members, nonmembers = rng.normal(0.5, 1, 200), rng.normal(0, 1, 300)
    estimate = auc(members, nonmembers)
    truth = np.r_[np.ones(200), np.zeros(300)]
    assert estimate.value == pytest.approx(roc_auc_score(truth, np.r_[members, nonmembers]))
    assert estimate.n == 500 and estimate.kind == "auc" and estimate.p_value < 1e-6
    # the true AUC of N(0.5,1) vs N(0,1) is Phi(0.5/sqrt(2)) = 0.638; DeLong covers it about 95 % of the time
    covered = [auc(rng.normal(0.5, 1, 60), rng.normal(0, 1, 60)).contains(0.6382) for _ in range(1000)]
    assert 0.92 <= np.mean(covered) <= 0.975


def test_auc_under_the_null_is_uniform_in_p():
    rng = np.random.default_rng(2)
    p = np.array([auc(rng.normal(size=30), rng.normal(size=30)).p_value for _ in range(2000)])
    assert 0.03 <= (p < 0.05).mean() <= 0.07
    # 30 vs 30: the null AUC's standard error is about 0.075, so 0.64 is borderline (p about 0.06)
    values = np.array([auc(rng.normal(size=30), rng.normal(size=30)).value for _ in range(2000)])
    assert values.std() == pytest.approx(0.075, abs=0.006)


def test_tpr_at_fpr_says_what_n_can_measure():
    members = np.linspace(0, 1, 50)
    nonmembers = np.linspace(-1, 0.5, 30)  # 30 non-members: the smallest non-zero FPR is 3.3 %
    low = tpr_at_fpr(members, nonmembers, 0.01)
    assert low.at_zero_false_positives and low.lowest_measurable_fpr == pytest.approx(1 / 30)
    assert "zero false positives" in low.label() and "3.3 %" in low.label()
    assert low.tpr.value == pytest.approx((members > 0.5).mean()) and low.tpr.n == 50
    many = np.linspace(-1, 0.5, 1000)
    near = np.linspace(0.47, 0.5, 80)  # members packed around the 1 % threshold: an off-by-one threshold changes the TPR
    measurable = tpr_at_fpr(near, many, 0.01)
    assert not measurable.at_zero_false_positives and measurable.label() == "TPR at 1 % FPR"
    # the threshold is the 11th highest non-member: 10 of 1000 (1 %) above it, and no lower threshold keeps FPR <= 1 %
    threshold = np.sort(many)[-11]
    assert (many > threshold).mean() <= 0.01 < (many >= threshold).mean()
    assert measurable.tpr.value == pytest.approx((near > threshold).mean()) and measurable.tpr.n == 80
    assert (near > np.sort(many)[-10]).mean() != measurable.tpr.value != (near > np.sort(many)[-12]).mean()
    assert type(low).from_dict(low.to_dict()) == low


def test_mean_and_paired_difference():
    est = mean([1.0, 2.0, 3.0, None, float("nan")])
    assert est.value == 2.0 and est.n == 3 and est.ci95 == pytest.approx((2 - 2.484, 2 + 2.484), abs=1e-3)
    assert np.isnan(mean([0.7]).ci95).all() and not mean([0.7]).contains(0.7) and np.isnan(mean([]).value)
    d = paired_difference([1, 2, 3, 4, 5], [1, 2, 3, 4, 5])
    assert d.value == 0 and d.p_value == 1.0
    with pytest.raises(ValueError, match="same shape"):
        paired_difference([1, 2], [1])
    # a difference of rates stays in [-1, 1]: SSD forgetting at 30 shots in 4 of 5 seeds, at exact in all
    loose, cut = paired_difference([1, 1, 1, 1, 0], [0] * 5), paired_difference([1, 1, 1, 1, 0], [0] * 5, bounds=(-1, 1))
    assert loose.ci95[1] > 1 and cut.ci95 == (pytest.approx(loose.ci95[0]), 1)
    assert (cut.value, cut.n, cut.p_value, cut.kind) == (loose.value, loose.n, loose.p_value, "difference")



def test_the_two_auc_means_over_seeds_differ_only_where_their_names_say():
    aucs = [0.61, 0.58, 0.63, 0.60, 0.59]
    versus_chance = mean_auc_vs_chance(aucs + [None, float("nan")])  # NaN and None dropped
    plain = mean_of_estimates([Estimate(a, 100, (a - 0.1, a + 0.1), "auc") for a in aucs], bounds=(0, 1))
    # the same mean and t-interval; only mean_auc_vs_chance tests against 0.5
    assert versus_chance.value == pytest.approx(plain.value) and versus_chance.ci95 == pytest.approx(plain.ci95)
    assert versus_chance.n == plain.n == 5 and versus_chance.kind == plain.kind == "mean"
    assert plain.p_value is None and versus_chance.p_value == pytest.approx(paired_difference(aucs, [0.5] * 5).p_value)
    # the interval is cut to [0, 1] by both
    assert mean_auc_vs_chance([0.0, 1.0]).ci95 == (0.0, 1.0) == mean_of_estimates([auc([1], [0]), auc([0], [1])], (0, 1)).ci95
    # one seed: mean_of_estimates keeps that seed's own interval, the t-test has none
    one = auc([0.9, 0.8, 0.7, 0.4], [0.1, 0.5, 0.3, 0.2])
    assert mean_of_estimates([one]) is one
    alone = mean_auc_vs_chance([one.value])
    assert alone.n == 1 and np.isnan(alone.ci95).all() and alone.p_value is None
    assert mean_of_estimates([]).n == mean_auc_vs_chance([]).n == 0


def test_shot_trends_stay_in_range():
    import pandas as pd

    from qmu_kit.experiment.trends import paired_shot_trend, shot_stability

    runs = pd.DataFrame({"shots": [30] * 5 + ["exact"] * 5, "seed": list(range(5)) * 2, "acc": [1, 1, 1, 1, 0] + [0] * 5})
    trend = paired_shot_trend(runs, "acc", bounds=(0, 1))
    assert trend.differences[30].ci95[1] == 1 and trend.differences[30].ci95[0] > 0
    assert trend.means[30].ci95[1] == 1 and trend.means["exact"].ci95 == (0, 0)
    assert paired_shot_trend(runs, "acc").differences[30].ci95[1] > 1  # without bounds the t-interval is uncut
    # a rate with its sample counts (a sweep table's <metric>_n): five seeds all at 0.00 on 30 samples each
    # still rest on 150 samples, so the mean keeps the pooled Wilson interval instead of [0, 0]
    rates = runs.rename(columns={"acc": "acc_train_forget"}).assign(acc_train_forget_n=30)
    exact = paired_shot_trend(rates, "acc_train_forget", bounds=(0, 1)).means["exact"]
    assert exact.value == 0 and exact.ci95 == pytest.approx(stats.proportion(0, 150).ci95) and exact.ci95[1] > 0.02
    # one model per seed, three readouts: the spread within a model is a standard deviation, never below 0
    replicates = pd.DataFrame({"shots": [30] * 15, "seed": np.repeat(range(5), 3), "model_name": "ssd",
                               "acc": [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]})
    within = shot_stability(replicates, "acc", "ssd").within[30]
    assert within.ci95[0] == 0 and within.value == pytest.approx(np.std([0, 0, 1], ddof=1) / 5)


def test_bootstrap_and_round_trip():
    est = bootstrap(np.mean, np.random.default_rng(3).normal(1, 1, 400), n_resamples=300)
    assert est.contains(1.0) and est.half_width < 0.15
    nan = Estimate(float("nan"), 0, (float("nan"), float("nan")))
    assert nan.to_dict()["value"] is None and np.isnan(Estimate.from_dict(nan.to_dict()).value)
    assert proportion(3, 10).format(percent=True, digits=1) == "30.0 % [10.8, 60.3] (n=10)"


def test_crossed_bootstrap_resamples_units_and_items_together():
    """Items measured on the same units: a unit effect (half the variance) widens the crossed interval to
    the spread of the statistic over new units; resampling the items alone misses it."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(10, 1)) + rng.normal(size=(10, 40))  # 10 units, 40 items
    statistic = lambda a: a.mean(axis=(1, 2))  # noqa: E731
    crossed = crossed_bootstrap(statistic, x, n_resamples=400, seed=1)
    assert crossed.value == pytest.approx(x.mean()) and crossed.n == 40 and crossed.kind == "bootstrap"
    # The mean over 10 units' effects has sd 1/sqrt(10) = 0.32, so a 95 % half-width near 0.6; the
    # items-only interval sees only the item noise averaged over units and items (sd 0.05).
    assert 0.35 < crossed.half_width < 0.9
    assert bootstrap(np.mean, x.mean(axis=0), n_resamples=400).half_width < 0.15
    # Seeded: the same draws whatever the chunk; another seed is another draw.
    assert crossed_bootstrap(statistic, x, n_resamples=400, seed=1, chunk=7) == crossed
    assert crossed_bootstrap(statistic, x, n_resamples=400, seed=2) != crossed


def test_crossed_bootstrap_centres_the_spread_on_the_estimate():
    """A statistic that duplicated units move (here: how many distinct rows) keeps its value inside
    the interval: the resamples give the spread, the estimate the place."""
    x = np.arange(12.0)[:, None] + np.zeros((12, 5))
    distinct = lambda a: np.array([len(np.unique(rows[:, 0])) for rows in a], dtype=float)  # noqa: E731
    est = crossed_bootstrap(distinct, x, n_resamples=200)
    assert est.value == 12 and est.contains(12)


@pytest.mark.parametrize("samples", [[np.zeros(5)], [np.zeros((3, 4)), np.zeros((3, 5))], [np.zeros((0, 4))], []])
def test_crossed_bootstrap_refuses_samples_without_shared_columns(samples):
    with pytest.raises(ValueError, match=r"expected 2-D samples \(rows, columns\).*got shapes"):
        crossed_bootstrap(np.mean, *samples)


@pytest.mark.parametrize("options, name", [({"n_resamples": 0}, "n_resamples"), ({"chunk": 2.5}, "chunk"), ({"chunk": True}, "chunk")])
def test_crossed_bootstrap_refuses_counts_that_are_not_positive_integers(options, name):
    with pytest.raises(ValueError, match=rf"{name}=.* is out of range: {name} must be an integer >= 1"):
        crossed_bootstrap(lambda a: a.mean(axis=(1, 2)), np.zeros((3, 4)), **options)


def test_crossed_bootstrap_cuts_its_interval_to_the_statistic_range():
    """An estimate near a bound with a wide spread: the interval placed at it would reach past the
    bound, and ``bounds`` cuts it there (as :func:`mean` does)."""
    rng = np.random.default_rng(5)
    x = 0.02 + 0.05 * rng.normal(size=(6, 1)) + 0.01 * rng.normal(size=(6, 30))
    statistic = lambda a: a.mean(axis=(1, 2))  # noqa: E731
    free = crossed_bootstrap(statistic, x, n_resamples=300)
    cut = crossed_bootstrap(statistic, x, n_resamples=300, bounds=(0.0, 1.0))
    assert free.ci95[0] < 0.0 and cut.ci95 == (0.0, free.ci95[1]) and cut.value == free.value

"""``qmu_kit.report.claims``: the trade-off sentence follows the two paired changes it joins."""

import pytest

from qmu_kit.core import Estimate
from qmu_kit.report.claims import change_claim, tradeoff_claim
from tests.notebook_tools import claim_problems


def difference(value, low, high, n=5):
    return Estimate(value, n, (low, high), "difference")


@pytest.mark.parametrize("auc, accuracy, verdict", [
    ((-0.06, -0.115, -0.005), (-0.024, -0.047, -0.001), "both"),
    ((-0.03, -0.052, -0.009), (-0.033, -0.066, 0.001), "protection"),  # the accuracy's interval reaches 0
    ((0.0, -0.02, 0.02), (-0.03, -0.05, -0.01), "cost"),
    ((0.0, -0.02, 0.02), (0.0, -0.01, 0.01), "neither"),
])
def test_tradeoff_verdict_and_sentence_follow_their_numbers(auc, accuracy, verdict):
    claim = tradeoff_claim("10 shots", change_claim("AUC", difference(*auc)), change_claim("accuracy", difference(*accuracy)))
    assert claim.verdict == verdict and claim.rule == "tradeoff"
    assert f"AUC changes by {auc[0]:+.3f} [" in claim.text and f"accuracy by {accuracy[0]:+.3f} [" in claim.text
    assert claim_problems("dial", claim.to_dict()) == []  # the notebooks' checker agrees with the rule
    if verdict == "protection":
        assert "a cost is not shown here, nor ruled out" in claim.text

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


def _displayed(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda bundle, raw=False: shown.append(bundle))
    return shown


def test_show_folds_an_exercise_answer_and_records_it(monkeypatch):
    from qmu_kit.report import METRICS_MIME, RECORDED, rate_claim, show

    shown = _displayed(monkeypatch)
    claim = rate_claim("GA's forget accuracy", Estimate(0.6, 50, (0.46, 0.73), "rate"), "RGA's",
                       Estimate(0.1, 50, (0.04, 0.21), "rate"), name="test_fold")
    show(claim, fold="The measurement")
    markdown = shown[0]["text/markdown"]
    assert markdown.startswith("<details><summary>The measurement</summary>") and markdown.endswith("</details>")
    assert "- GA's forget accuracy 0.60" in markdown and "higher than" in markdown
    assert shown[0]["text/plain"].startswith("- GA's") and "<details>" not in shown[0]["text/plain"]
    assert shown[0][METRICS_MIME]["claim:test_fold"]["verdict"] == "above" and "claim:test_fold" in RECORDED


def test_record_claims_records_without_showing_and_returns_the_sentences(monkeypatch):
    from qmu_kit.report import METRICS_MIME, rate_claim, record_claims

    shown = _displayed(monkeypatch)
    claim = rate_claim("the forget accuracy", Estimate(0.5, 40, (0.35, 0.65), "rate"), "the retrained model's",
                       Estimate(0.0, 40, (0.0, 0.09), "rate"), name="test_hidden")
    said = record_claims(claim)
    assert said == (f"The forget accuracy {claim.text[len('the forget accuracy '):]}.",)
    assert shown[0]["text/plain"] == "" and "text/markdown" not in shown[0]
    assert claim_problems("test_hidden", shown[0][METRICS_MIME]["claim:test_hidden"]) == []

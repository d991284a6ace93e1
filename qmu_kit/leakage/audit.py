"""The membership audit: who knows what, which attack is fitted on what, and what is reported.

This kit's definition (the notebooks explain it too):

* **The attacker audits the deployed model before the deletion request.** It holds known members
  (training samples) and known non-members (test samples) of every class and fits its attacks on the
  original model's outputs for them. After unlearning it queries the new model and replays the same
  attacks, as the paper does: does the model still treat the forgotten samples like members?
* **Cross-fitting.** Members and non-members are split at random into two folds; the attack fitted on
  one fold scores the other. Every sample is thus scored by an attack that never saw it, and every
  forget-set member counts in the metrics (the forget set is small).
* **Reported per attack and model:** the paper's **MIA success** (share of forget-set members flagged
  as members); the **control**, the share of the forget set's non-member counterparts (test samples of
  the forgotten class, or a random test fraction) flagged; AUC and TPR at low FPR of forget members vs
  those counterparts ("forget"), and of retain members vs retain non-members ("overall"), each on a
  balanced subsample.

After unlearning, the goal is "indistinguishable from the retrained model", not 0 %.

Example:
    >>> import numpy as np
    >>> from qmu_kit.qnn import prepare_data
    >>> data = prepare_data("digits", n_qubits=6, n_train=300, n_test=200)
    >>> split = AuditSplit.draw(data, seed=0)
    >>> sorted(set(split.member_fold.tolist()))
    [0, 1]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from qmu_kit.core import stats
from qmu_kit.core.seeds import stream_seed
from qmu_kit.core.stats import Estimate
from qmu_kit.leakage.attacks import ATTACKS, Observations, make_attack  # noqa: F401 (ATTACKS re-exported)
from qmu_kit.leakage.metrics import MembershipMetrics, balanced_indices, membership_metrics
from qmu_kit.qnn.data import PreparedData


@dataclass(frozen=True)
class AuditSplit:
    """Fold of each training sample (member) and test sample (non-member), and the forget masks."""

    member_fold: np.ndarray
    nonmember_fold: np.ndarray
    forget_members: np.ndarray
    forget_nonmembers: np.ndarray

    @classmethod
    def draw(cls, data: PreparedData, seed: int = 0) -> "AuditSplit":
        """Two folds over the data's training (member) and test (non-member) sets."""
        return cls.from_masks(data.forget_train, data.forget_test, seed)

    @classmethod
    def from_masks(cls, forget_members: np.ndarray, forget_nonmembers: np.ndarray, seed: int = 0) -> "AuditSplit":
        """Two folds, drawn separately within the forget and retain parts so both folds hold each."""
        rng = np.random.default_rng([seed, 3])

        def folds(forget_mask):
            fold = np.zeros(len(forget_mask), dtype=np.int64)
            for part in (np.flatnonzero(forget_mask), np.flatnonzero(~forget_mask)):
                fold[rng.permutation(part)[: len(part) // 2]] = 1
            return fold

        forget_members, forget_nonmembers = np.asarray(forget_members, bool), np.asarray(forget_nonmembers, bool)
        return cls(folds(forget_members), folds(forget_nonmembers), forget_members, forget_nonmembers)


@dataclass(frozen=True)
class AttackOutcome:
    """One attack replayed against one model.

    Attributes:
        attack: the attack's registry name.
        mia_success_forget: share of forget-set members flagged as members (the paper's metric), a
            Wilson :class:`~qmu_kit.core.stats.Estimate` over the forget-set members.
        flag_rate_forget_nonmembers: the same share on the forget set's non-member counterparts
            (a high value means the attack recognizes the class, not membership): its control.
        forget: forget-set members vs their non-member counterparts (balanced).
        overall: retain members vs retain non-members (balanced; the larger comparison, where a TPR at
            1 % FPR can be measured at the classroom sizes).
    """

    attack: str
    mia_success_forget: Estimate
    flag_rate_forget_nonmembers: Estimate
    forget: MembershipMetrics
    overall: MembershipMetrics

    def to_dict(self, curves: bool = True) -> dict:
        """JSON-ready; :meth:`from_dict` reads it back (``curves=False`` leaves the ROC curves out)."""
        return {
            "attack": self.attack,
            "mia_success_forget": self.mia_success_forget.to_dict(),
            "flag_rate_forget_nonmembers": self.flag_rate_forget_nonmembers.to_dict(),
            "forget": self.forget.to_dict(curves),
            "overall": self.overall.to_dict(curves),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "AttackOutcome":
        return cls(
            data["attack"], Estimate.from_dict(data["mia_success_forget"]),
            Estimate.from_dict(data["flag_rate_forget_nonmembers"]),
            MembershipMetrics.from_dict(data["forget"]), MembershipMetrics.from_dict(data["overall"]),
        )


class MembershipAudit:
    """Fit attacks against the original model, then score any model's outputs.

    Args:
        attacks: registry names (see :data:`~qmu_kit.leakage.attacks.ATTACKS`).
        seed: seeds the attacks and the balancing subsamples.

    Example:
        >>> import numpy as np
        >>> from qmu_kit.qnn import prepare_data
        >>> data = prepare_data("digits", n_qubits=6, n_train=200, n_test=200)
        >>> rng = np.random.default_rng(0)
        >>> fake = lambda y: Observations(rng.dirichlet(np.ones(10), len(y)), y)
        >>> audit = MembershipAudit(["loss"]).fit(fake(data.y_train), fake(data.y_test), AuditSplit.draw(data))
        >>> 0 <= audit.evaluate(fake(data.y_train), fake(data.y_test))["loss"].forget.auc.value <= 1
        True
    """

    def __init__(self, attacks: Sequence[str] = ("mlp",), seed: int = 0):
        self.attacks = tuple(attacks)
        self.seed = seed

    def fit(self, members: Observations, nonmembers: Observations, split: AuditSplit) -> "MembershipAudit":
        for name in self.attacks:
            make_attack(name)  # validates the name before any work
        self.split_ = split
        self.fitted_ = {}
        for name in self.attacks:
            per_fold = []
            for fold in (0, 1):
                m = np.flatnonzero(split.member_fold == fold)
                n = np.flatnonzero(split.nonmember_fold == fold)
                keep_m, keep_n = balanced_indices(len(m), len(n), stream_seed(self.seed, f"balance-fold{fold}"))
                attack = make_attack(name, stream_seed(self.seed, f"attack-{name}-fold{fold}"))
                per_fold.append(attack.fit(members.take(m[keep_m]), nonmembers.take(n[keep_n])))
            self.fitted_[name] = per_fold
        return self

    def to_state(self) -> dict | None:
        """The fitted attacks as a state the model cache stores (each attack's
        :meth:`~qmu_kit.leakage.attacks.MembershipAttack.fitted_state` per fold), or ``None`` when an
        attack keeps something the cache cannot store (then the audit is fitted again each time)."""
        try:
            fitted = {name: [attack.fitted_state() for attack in folds] for name, folds in self.fitted_.items()}
        except TypeError:
            return None
        return {"attacks": list(self.attacks), "seed": self.seed, "fitted": fitted}

    @classmethod
    def from_state(cls, state: dict, split: AuditSplit) -> "MembershipAudit":
        """The audit :meth:`to_state` stored, fitted on ``split`` (the same split it was fitted on:
        the cache key names the data and seed that draw it); it scores exactly as the stored one.

        Example:
            >>> from qmu_kit.qnn import prepare_data
            >>> data = prepare_data("digits", n_qubits=6, n_train=200, n_test=200)
            >>> rng = np.random.default_rng(0)
            >>> fake = lambda y: Observations(rng.dirichlet(np.ones(10), len(y)), y)
            >>> members, nonmembers, split = fake(data.y_train), fake(data.y_test), AuditSplit.draw(data)
            >>> audit = MembershipAudit(["loss", "mlp"]).fit(members, nonmembers, split)
            >>> again = MembershipAudit.from_state(audit.to_state(), split)
            >>> again.evaluate(members, nonmembers) == audit.evaluate(members, nonmembers)
            True
        """
        audit = cls(state["attacks"], state["seed"])
        audit.split_ = split
        audit.fitted_ = {
            name: [make_attack(name, stream_seed(audit.seed, f"attack-{name}-fold{fold}")).load_fitted_state(fold_state)
                   for fold, fold_state in enumerate(folds)]
            for name, folds in state["fitted"].items()
        }
        return audit

    def out_of_fold(self, name: str, observations: Observations, fold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Attack ``name``'s scores and membership flags for ``observations``, each scored by the attack
        fitted on the other fold (``fold``: each observation's fold, e.g. ``split_.member_fold``)."""
        scores = np.empty(len(observations))
        flags = np.empty(len(observations), dtype=bool)
        for f, attack in enumerate(self.fitted_[name]):
            other = np.flatnonzero(fold != f)  # attack fitted on fold f scores the other fold
            part = observations.take(other)
            scores[other], flags[other] = attack.score(part), attack.predict(part)
        return scores, flags

    def evaluate(self, members: Observations, nonmembers: Observations, balanced: bool = True) -> dict[str, AttackOutcome]:
        """Replay every fitted attack on a model's observations of the training and test sets.

        Args:
            balanced: compare equally many members and non-members (a seeded subsample of the larger
                group, :func:`~qmu_kit.leakage.metrics.balanced_indices`); ``False`` compares every
                observation (a device audit, whose query sets are drawn balanced where the data allow).
        """
        split = self.split_
        outcomes = {}
        for name in self.attacks:
            member_scores, member_flags = self.out_of_fold(name, members, split.member_fold)
            nonmember_scores, nonmember_flags = self.out_of_fold(name, nonmembers, split.nonmember_fold)

            def compare(member_mask, nonmember_mask, balance_seed):
                m, n = np.flatnonzero(member_mask), np.flatnonzero(nonmember_mask)
                if balanced:
                    keep_m, keep_n = balanced_indices(len(m), len(n), balance_seed)
                    m, n = m[keep_m], n[keep_n]
                return membership_metrics(member_scores[m], nonmember_scores[n], member_flags[m], nonmember_flags[n])

            outcomes[name] = AttackOutcome(
                attack=name,
                mia_success_forget=stats.rate(member_flags[split.forget_members]),
                flag_rate_forget_nonmembers=stats.rate(nonmember_flags[split.forget_nonmembers]),
                forget=compare(split.forget_members, split.forget_nonmembers, stream_seed(self.seed, "balance-forget")),
                overall=compare(~split.forget_members, ~split.forget_nonmembers, stream_seed(self.seed, "balance-overall")),
            )
        return outcomes


@dataclass(frozen=True)
class AuditQueries:
    """What the auditor queries and knows: members (training samples) and non-members (test samples),
    inputs and labels, LiRA's reference outputs on them (``(None, None)`` without LiRA), and the split
    (folds, forget masks) its attacks are fitted on.

    Example:
        >>> from qmu_kit.qnn import prepare_data
        >>> data = prepare_data("digits", n_qubits=6, n_train=300, n_test=200)
        >>> queries = AuditQueries.of(data, seed=0)
        >>> len(queries.y_members), len(queries.y_nonmembers)
        (300, 200)
    """

    x_members: np.ndarray
    y_members: np.ndarray
    x_nonmembers: np.ndarray
    y_nonmembers: np.ndarray
    split: AuditSplit
    reference: tuple = (None, None)

    @classmethod
    def of(cls, data: PreparedData, seed: int = 0, reference: tuple = (None, None)) -> "AuditQueries":
        """The whole training set as members, the whole test set as non-members, split by
        :meth:`AuditSplit.draw`."""
        return cls(data.x_train, data.y_train, data.x_test, data.y_test, AuditSplit.draw(data, seed), reference)


@dataclass(frozen=True)
class AuditedModels:
    """What :func:`audit_models` saw and fitted.

    Attributes:
        audit: the attacks, fitted on ``observed["original"]``.
        observed: each model's ``(members, non-members)`` :class:`~qmu_kit.leakage.attacks.Observations`.
        balanced: whether :meth:`outcomes` compares equally many members and non-members.
    """

    audit: MembershipAudit
    observed: dict
    balanced: bool = True

    def outcomes(self, name: str) -> dict[str, AttackOutcome]:
        """Every fitted attack replayed on model ``name``'s observations (:meth:`MembershipAudit.evaluate`)."""
        return self.audit.evaluate(*self.observed[name], balanced=self.balanced)


def audit_models(models: Mapping, queries: AuditQueries, attacks: Sequence[str], seed: int, *,
                 readout: Callable[[str, str], object], balanced: bool = True,
                 get_audit: Callable[[Callable[[], MembershipAudit]], MembershipAudit] | None = None) -> AuditedModels:
    """The membership audit every study runs: the experiment, a model you bring, a device, a private model.

    Each model is queried on the members and the non-members with its own readout, the attacks are
    fitted against ``models["original"]``'s outputs on ``queries.split``, and every model can then be
    scored by them (:meth:`AuditedModels.outcomes`).

    Args:
        models: classifiers by name (anything with ``predict_proba(x, readout=...)``), ``"original"``
            among them.
        queries: who is queried and the split the attacks are fitted on.
        attacks: attack registry names.
        seed: the audit's seed (attacks, balancing subsamples).
        readout: ``(model name, "train" | "test") -> readout`` for the members' and the non-members'
            queries; one random stream per model and query set keeps each model's numbers independent
            of which other models are audited.
        balanced: see :meth:`MembershipAudit.evaluate`.
        get_audit: called with the function that fits the attacks, returns the fitted audit (default:
            fit them); the experiment pipeline passes one that replays them from the model cache, so
            experiments that audit the same original model at the same shots fit its attacks once.

    Example:
        >>> from qmu_kit.qnn import QNNClassifier, make_readout, prepare_data
        >>> data = prepare_data("digits", n_qubits=3, n_train=60, n_test=60)
        >>> model = QNNClassifier("basic", 3, 1, epochs=1).fit(data.x_train, data.y_train)
        >>> audited = audit_models({"original": model}, AuditQueries.of(data), ["loss"], seed=0,
        ...                        readout=lambda name, part: make_readout(100, seed=0))
        >>> 0 <= audited.outcomes("original")["loss"].overall.auc.value <= 1
        True
    """
    member_reference, nonmember_reference = queries.reference

    def observe(model, name: str) -> tuple[Observations, Observations]:
        return (
            Observations(model.predict_proba(queries.x_members, readout=readout(name, "train")), queries.y_members,
                         member_reference),
            Observations(model.predict_proba(queries.x_nonmembers, readout=readout(name, "test")), queries.y_nonmembers,
                         nonmember_reference),
        )

    observed = {name: observe(model, name) for name, model in models.items()}

    def fit() -> MembershipAudit:
        return MembershipAudit(attacks, seed).fit(*observed["original"], queries.split)

    return AuditedModels(fit() if get_audit is None else get_audit(fit), observed, balanced)


__all__ = ["ATTACKS", "AttackOutcome", "AuditQueries", "AuditSplit", "AuditedModels", "MembershipAudit",
           "Observations", "audit_models", "headline_attack"]


def headline_attack(attacks, attack: str | None = None) -> str:
    """The attack behind the headline ``mia_*`` numbers: ``attack`` when given, else the paper's MLP
    attack when it runs, else the first of ``attacks``.

    Example:
        >>> headline_attack(("loss", "mlp")), headline_attack(("loss", "entropy")), headline_attack(("loss", "mlp"), "loss")
        ('mlp', 'loss', 'loss')
    """
    if attack is not None:
        return attack
    return "mlp" if "mlp" in attacks else attacks[0]

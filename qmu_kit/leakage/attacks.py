"""Membership inference attacks: turn attack signals into membership scores and decisions.

Every attack follows one interface (``fit`` on known members and non-members, then ``score``, higher
means "member", and ``predict``, a boolean decision). :data:`ATTACKS` is the registry the CLI, the
widgets and the notebooks list names from; :func:`register` adds one.

* ``mlp`` - the paper's attack (this kit's reading of it): 13 features per sample
  (:func:`~qmu_kit.leakage.signals.paper_features`) -> MLP 13->64->64->1 (ReLU, dropout 0.3), Adam, trained on
  known members vs known non-members; a sample is flagged when the MLP says > 0.5.
* ``loss``, ``confidence``, ``entropy`` - threshold attacks (Yeom et al. 2018) on one signal; the
  threshold maximizes balanced accuracy on the known members / non-members.
* ``lira`` - offline likelihood-ratio attack (Carlini et al. 2022): compares the target's scaled
  logit on a sample with the same statistic from shadow QNNs that never trained on it
  (:class:`ShadowModels`); flags by a threshold fitted like the threshold attacks.

Example:
    >>> import numpy as np
    >>> members = Observations(np.array([[0.95, 0.05], [0.9, 0.1]]), np.array([0, 0]))
    >>> nonmembers = Observations(np.array([[0.6, 0.4], [0.3, 0.7]]), np.array([0, 0]))
    >>> attack = ThresholdAttack("loss").fit(members, nonmembers)
    >>> attack.predict(members).tolist(), attack.predict(nonmembers).tolist()
    ([True, True], [False, False])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.metrics import roc_curve
from torch import nn

from qmu_kit.core.registry import Registry
from qmu_kit.core.validation import check_choice, check_int
from qmu_kit.core.palette import COLOURS
from qmu_kit.leakage.signals import MEMBERSHIP_SCORES, paper_features, scaled_logit


@dataclass(frozen=True)
class Observations:
    """What the attacker holds about some samples.

    Attributes:
        probs: the target's class probabilities ``(N, C)`` (shot-estimated or exact).
        labels: true labels ``(N,)``.
        reference: outputs of shadow models that did not train on these samples ``(K, N, C)``
            (only LiRA uses them).
    """

    probs: np.ndarray
    labels: np.ndarray
    reference: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: np.ndarray) -> "Observations":
        reference = None if self.reference is None else self.reference[:, index]
        return Observations(self.probs[index], self.labels[index], reference)


def best_threshold(member_scores: np.ndarray, nonmember_scores: np.ndarray) -> float:
    """The score threshold with the best balanced accuracy (max TPR - FPR) on known samples."""
    truth = np.r_[np.ones(len(member_scores)), np.zeros(len(nonmember_scores))]
    fpr, tpr, thresholds = roc_curve(truth, np.r_[member_scores, nonmember_scores])
    best = int(np.argmax(tpr - fpr))
    return float(thresholds[best]) if np.isfinite(thresholds[best]) else float(np.max(member_scores))


class MembershipAttack:
    """Base class: subclasses define ``name`` and :meth:`score`; ``fit`` sets ``threshold_``."""

    name = "base"
    needs_reference = False
    #: Fitted attributes a subclass's own ``fitted_state`` stores (the MLP's network).
    _stored_apart: tuple[str, ...] = ()

    def fit(self, members: Observations, nonmembers: Observations) -> "MembershipAttack":
        self.threshold_ = best_threshold(self.score(members), self.score(nonmembers))
        return self

    def score(self, observations: Observations) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, observations: Observations) -> np.ndarray:
        """``True`` where the attack flags the sample as a training member."""
        return self.score(observations) >= self.threshold_

    def fitted_state(self) -> dict:
        """What :meth:`fit` learned (every attribute ending in ``_``) as a state the model cache stores:
        numbers and strings as they are, arrays as tensors. :meth:`load_fitted_state` sets it again on
        an attack made with the same settings, which then scores exactly as this one.

        Raises:
            TypeError: a fitted attribute of another kind, naming it (such an attack defines its own
                ``fitted_state`` and ``load_fitted_state``, or is not cached).

        Example:
            >>> members = Observations(np.array([[0.9, 0.1], [0.8, 0.2]]), np.array([0, 0]))
            >>> nonmembers = Observations(np.array([[0.6, 0.4], [0.3, 0.7]]), np.array([0, 0]))
            >>> fitted = ThresholdAttack("loss").fit(members, nonmembers)
            >>> again = ThresholdAttack("loss").load_fitted_state(fitted.fitted_state())
            >>> again.threshold_ == fitted.threshold_
            True
        """
        values, arrays = {}, {}
        for name, value in vars(self).items():
            if not name.endswith("_") or name.startswith("_") or name in self._stored_apart:
                continue
            if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
                arrays[name] = torch.from_numpy(value.copy())
            elif isinstance(value, (np.floating, np.integer, np.bool_)):
                values[name] = value.item()
            elif value is None or isinstance(value, (bool, int, float, str)):
                values[name] = value
            else:
                raise TypeError(f"the {self.name} attack's fitted {name} is a {type(value).__name__}, which the model cache "
                                "cannot store: define fitted_state and load_fitted_state for it")
        return {"values": values, "arrays": arrays}

    def load_fitted_state(self, state: dict) -> "MembershipAttack":
        """Set what :meth:`fitted_state` stored; returns self, fitted."""
        for name, value in state["values"].items():
            setattr(self, name, value)
        for name, tensor in state["arrays"].items():
            setattr(self, name, tensor.numpy())
        return self


class ThresholdAttack(MembershipAttack):
    """Flag a sample as a member when one signal passes a threshold (Yeom et al. 2018).

    Args:
        signal: ``"loss"`` (low loss), ``"confidence"`` (high true-label probability) or
            ``"entropy"`` (low prediction entropy).
    """

    def __init__(self, signal: str = "loss"):
        self.signal = check_choice("threshold signal", signal, MEMBERSHIP_SCORES)
        self.name = signal

    def score(self, observations: Observations) -> np.ndarray:
        return MEMBERSHIP_SCORES[self.signal](observations.probs, observations.labels)


class Dropout(nn.Dropout):
    """:class:`torch.nn.Dropout` drawing the same masks in one vectorized call on CPU.

    torch's CPU Bernoulli kernel draws one double from the generator per element, element by element,
    and keeps the element when it is below ``keep = 1 - p``; ``torch.rand(..., dtype=float64) < keep``
    draws the same doubles in the same order, vectorized, so the masks and the generator's state
    afterwards are the same to the last bit. Scaling and gradients are ``nn.Dropout``'s: ``x * (mask / keep)``.

    Example:
        >>> x = torch.ones(2, 4)
        >>> _ = torch.manual_seed(0); fast = Dropout(0.5)(x)
        >>> _ = torch.manual_seed(0); torch.equal(fast, nn.Dropout(0.5)(x))
        True
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return x * torch.zeros((), dtype=x.dtype)
        keep = 1 - self.p
        noise = (torch.rand(x.shape, dtype=torch.float64) < keep).to(x.dtype).div_(keep)
        return x * noise


class PaperMLPAttack(MembershipAttack):
    """The paper's attack model: MLP 13 -> 64 -> 64 -> 1 on :func:`~qmu_kit.leakage.signals.paper_features`.

    Args:
        hidden: width of both hidden layers.
        dropout: dropout after each hidden layer.
        epochs: full-batch Adam steps.
        lr: Adam learning rate.
        seed: seeds initialization and dropout.

    Members and non-members are weighted equally in the loss whatever their counts, so the 0.5
    decision threshold is meaningful.

    Deviations from the published attack (the paper fixes the features, the architecture, dropout
    and Adam): the learning rate (``1e-3``) and the number of epochs (300 full-batch steps) are this
    kit's choices, not published values; the 13 features are standardised with the training
    samples' mean and spread before entering the MLP, and the loss weights members and non-members
    equally (balanced), neither of which the published description mentions. Without them the
    loss feature, which spans a far wider range than the probabilities, dominates, and an unequal
    member/non-member count shifts the 0.5 threshold.
    """

    name = "mlp"
    _stored_apart = ("network_",)

    def __init__(self, hidden: int = 64, dropout: float = 0.3, epochs: int = 300, lr: float = 1e-3, seed: int = 0):
        self.hidden = hidden
        self.dropout = dropout
        self.epochs = epochs
        self.lr = lr
        self.seed = seed

    def _inputs(self, observations: Observations) -> torch.Tensor:
        features = paper_features(observations.probs, observations.labels)
        return torch.tensor((features - self.mean_) / self.scale_, dtype=torch.float32)

    def fit(self, members: Observations, nonmembers: Observations) -> "PaperMLPAttack":
        features = np.r_[paper_features(members.probs, members.labels), paper_features(nonmembers.probs, nonmembers.labels)]
        # Standardized inputs: the loss feature spans a far wider range than the probabilities.
        self.mean_, self.scale_ = features.mean(0), np.maximum(features.std(0), 1e-6)
        truth = torch.tensor(np.r_[np.ones(len(members)), np.zeros(len(nonmembers))], dtype=torch.float32)
        x = torch.tensor((features - self.mean_) / self.scale_, dtype=torch.float32)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            network = self._network(x.shape[1])
            optimizer = torch.optim.Adam(network.parameters(), lr=self.lr, foreach=True)
            weight = torch.where(truth > 0, 0.5 / len(members), 0.5 / len(nonmembers))
            for _ in range(self.epochs):
                optimizer.zero_grad()
                logits = network(x).squeeze(1)
                loss = (nn.functional.binary_cross_entropy_with_logits(logits, truth, reduction="none") * weight).sum()
                loss.backward()
                optimizer.step()
        network.eval()
        self.network_ = network
        self.threshold_ = 0.5
        return self

    def score(self, observations: Observations) -> np.ndarray:
        with torch.no_grad():
            return torch.sigmoid(self.network_(self._inputs(observations)).squeeze(1)).numpy().astype(np.float64)

    def _network(self, n_features: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Linear(n_features, self.hidden), nn.ReLU(), Dropout(self.dropout),
            nn.Linear(self.hidden, self.hidden), nn.ReLU(), Dropout(self.dropout),
            nn.Linear(self.hidden, 1),
        )

    def fitted_state(self) -> dict:
        """The standardisation, the threshold and the trained network's weights (see
        :meth:`MembershipAttack.fitted_state`)."""
        return super().fitted_state() | {"network": self.network_.state_dict()}

    def load_fitted_state(self, state: dict) -> "PaperMLPAttack":
        super().load_fitted_state(state)
        with torch.random.fork_rng(devices=[]):  # building the layers draws initial weights: not from the caller's stream
            network = self._network(len(self.mean_))
        network.load_state_dict(state["network"])
        network.eval()
        self.network_ = network
        return self


class LiRAOfflineAttack(MembershipAttack):
    """Offline likelihood-ratio attack: how far above the shadow (OUT) models is the target?

    The score is ``(phi_target - mean_out) / sd_out`` with ``phi`` the scaled logit
    ``log p_y - log(1 - p_y)`` and ``mean_out`` the sample's mean over the shadows (Carlini et al.
    2022, offline variant). ``sd_out`` is fixed when the attack is fitted and never depends on which
    other samples are scored in the same call:

    * with at least ``per_example_shadows`` shadows, each sample's own spread over its shadows
      (Carlini et al.'s per-example variance);
    * with fewer (the kit's default: 2 shadows), one global value ``sd_`` stored by :meth:`fit`: the
      pooled within-sample standard deviation of the shadow logits of the known members and
      non-members (``ddof=1`` per sample), because a per-sample spread of two numbers is mostly
      noise; Carlini et al. recommend the global variance for few shadows too. With a single shadow
      there is no within-sample spread and ``sd_`` is the spread of its logits across samples.

    Deviations from the published attack: offline only (no IN models), 2 shadows by default (Carlini
    et al. use 64 or more), and shadows trained on the attacker's disjoint population split.

    Args:
        per_example_shadows: shadows needed before per-example variances are used (>= 2).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> seen = Observations(rng.dirichlet(np.ones(3), 20), rng.integers(0, 3, 20), rng.dirichlet(np.ones(3), (2, 20)))
        >>> attack = LiRAOfflineAttack().fit(seen.take(np.arange(10)), seen.take(np.arange(10, 20)))
        >>> bool(np.allclose(attack.score(seen)[:5], attack.score(seen.take(np.arange(5)))))
        True
    """

    name = "lira"
    needs_reference = True

    def __init__(self, per_example_shadows: int = 16):
        self.per_example_shadows = check_int("LiRA per_example_shadows", per_example_shadows, 2)

    @staticmethod
    def _logits(observations: Observations) -> tuple[np.ndarray, np.ndarray]:
        if observations.reference is None:
            raise ValueError("the LiRA attack needs shadow-model outputs (Observations.reference)")
        target = scaled_logit(observations.probs, observations.labels)
        shadows = np.stack([scaled_logit(p, observations.labels) for p in observations.reference])
        return target, shadows

    def fit(self, members: Observations, nonmembers: Observations) -> "LiRAOfflineAttack":
        shadows = np.concatenate([self._logits(members)[1], self._logits(nonmembers)[1]], axis=1)  # (K, N)
        self.n_shadows_ = len(shadows)
        self.per_example_ = self.n_shadows_ >= self.per_example_shadows
        if self.n_shadows_ > 1:
            pooled = ((shadows - shadows.mean(0)) ** 2).sum() / (shadows.shape[1] * (self.n_shadows_ - 1))
            self.sd_ = max(float(np.sqrt(pooled)), 1e-6)
        else:
            self.sd_ = max(float(shadows.std(ddof=1)) if shadows.shape[1] > 1 else 0.0, 1e-6)
        return super().fit(members, nonmembers)

    def score(self, observations: Observations) -> np.ndarray:
        target, shadows = self._logits(observations)
        if len(shadows) != self.n_shadows_:
            raise ValueError(
                f"the LiRA attack was fitted with {self.n_shadows_} shadow models, got outputs of {len(shadows)}"
            )
        # Floor a per-example sd at a tenth of the global one: a sample on which the shadows agree
        # to the last digit would otherwise get an unbounded score.
        sd = np.maximum(shadows.std(0, ddof=1), 0.1 * self.sd_) if self.per_example_ else self.sd_
        return (target - shadows.mean(0)) / sd


#: The attack registry: name -> factory called with a seed (``factory(seed) -> MembershipAttack``),
#: with a label and colour each.
ATTACKS = Registry("attack")
#: Decorator adding an attack: ``@register("mine", label="my attack", colour="teal")`` on a function
#: ``seed -> attack`` (or a class constructed with the seed).
register = ATTACKS.register

register("mlp", label="paper's MLP attack", colour=COLOURS["vermillion"])(lambda seed: PaperMLPAttack(seed=seed))
register("loss", label="loss threshold", colour=COLOURS["blue"])(lambda seed: ThresholdAttack("loss"))
register("confidence", label="confidence threshold", colour=COLOURS["bluish_green"])(lambda seed: ThresholdAttack("confidence"))
register("entropy", label="entropy threshold", colour=COLOURS["reddish_purple"])(lambda seed: ThresholdAttack("entropy"))
register("lira", label="LiRA (offline)", colour=COLOURS["orange"])(lambda seed: LiRAOfflineAttack())


def attack_names() -> tuple[str, ...]:
    """Every registered attack, read live from the registry."""
    return tuple(ATTACKS)


def make_attack(name: str, seed: int = 0) -> MembershipAttack:
    """An unfitted attack by registry name."""
    return ATTACKS[check_choice("attack", name, ATTACKS)](seed)


def needs_reference(names) -> bool:
    """Whether any of the named attacks needs shadow-model outputs (:attr:`Observations.reference`)."""
    return any(make_attack(name).needs_reference for name in names)


class ShadowModels:
    """Shadow QNNs for LiRA, trained on attacker-side data disjoint from the target's members.

    Args:
        make_classifier: ``seed -> unfitted QNNClassifier`` with the target's training recipe (the
            attacker knows the architecture and hyperparameters, not the data).
        n_shadows: how many shadows (>= 1; small by default because each is a full training run).
        train_size: samples per shadow (default: half the attacker's population).
        seed: seeds the shadows' data subsets and their training.
    """

    def __init__(self, make_classifier: Callable, n_shadows: int = 2, train_size: int | None = None, seed: int = 0):
        self.make_classifier = make_classifier
        self.n_shadows = n_shadows
        self.train_size = train_size
        self.seed = seed

    def fit(self, x_population: np.ndarray, y_population: np.ndarray) -> "ShadowModels":
        n_shadows = check_int("n_shadows", self.n_shadows, 1, 64)
        size = self.train_size or len(y_population) // 2
        if size < 20 or size > len(y_population):
            raise ValueError(
                f"LiRA's shadow models need attacker data disjoint from the target's train and test sets: "
                f"{len(y_population)} samples are left, {size} per shadow is not enough (need >= 20); "
                "lower n_train or n_test, or drop 'lira' from the attacks"
            )
        rng = np.random.default_rng([self.seed, 2])
        self.models_ = []
        for k in range(n_shadows):
            subset = rng.choice(len(y_population), size, replace=False)
            classifier = self.make_classifier(int(rng.integers(2**31)))
            self.models_.append(classifier.fit(x_population[subset], y_population[subset]))
        return self

    @classmethod
    def from_models(cls, models: list) -> "ShadowModels":
        """Shadows that were trained before (e.g. replayed from the model cache)."""
        shadows = cls(None, len(models))
        shadows.models_ = list(models)
        return shadows

    def predict_proba(self, x: np.ndarray, **readout_options) -> np.ndarray:
        """Every shadow's class probabilities on ``x``: ``(n_shadows, N, C)``."""
        return np.stack([model.predict_proba(x, **readout_options) for model in self.models_])

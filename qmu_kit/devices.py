"""Leakage on (emulated) quantum devices: the same attack, with outputs from qiskit-aer.

The paper saw less leakage on cloud hardware than in noiseless simulation (average MIA success 75.3 %
vs 90.2 %). :func:`run_device_audit` lets a learner test that: it takes the original model of an
experiment, queries it on a device (noiseless sampling, a depolarizing + readout-error noise model, or
a fake backend's calibration), fits the attacks on the device's outputs and reports the same numbers
as :mod:`qmu_kit.experiment`.

qiskit-aer runs one circuit per input, so the audit uses a subset of ``n_queries`` members and
``n_queries`` non-members, each holding the same number of forget-set samples.

A real device: build the circuits with :func:`qmu_kit.circuit.to_qiskit` and run them with your own
credentials through ``qiskit-ibm-runtime``'s ``SamplerV2``; nothing in the kit or its tests needs one.

Example:
    >>> from qmu_kit.experiment import ExperimentConfig
    >>> from qmu_kit.readout import NoiseSpec
    >>> out = run_device_audit(ExperimentConfig(), NoiseSpec(), n_queries=60)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict

import numpy as np

from qmu_kit._random import stream_seed
from qmu_kit._validation import check_choice, check_int, check_shots
from qmu_kit.attacks import Observations
from qmu_kit.audit import AuditSplit, MembershipAudit
from qmu_kit.cache import ResultCache, resolve_cache
from qmu_kit.experiment import ExperimentConfig, train_original
from qmu_kit.readout import AerReadout, NoiseSpec, ShotReadout
from qmu_kit.unlearning import UnlearningTask, make_method

ENGINES = ("aer", "sampler")
#: Attacks that need nothing but the target's outputs (LiRA's shadows would need the device too).
DEVICE_ATTACKS = ("mlp", "loss", "confidence", "entropy")


def _subset(forget_mask: np.ndarray, size: int, n_forget: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` indices: ``n_forget`` from the forget part, the rest from the retained part."""
    forget, retain = np.flatnonzero(forget_mask), np.flatnonzero(~forget_mask)
    take_retain = min(len(retain), size - n_forget)
    return np.sort(np.r_[rng.choice(forget, n_forget, replace=False), rng.choice(retain, take_retain, replace=False)])


def device_label(noise: NoiseSpec | None) -> str:
    if noise is None:
        return "noiseless device"
    if noise.backend:
        return f"{noise.backend} calibration"
    return f"depolarizing p1={noise.p1:g}, p2={noise.p2:g}, readout {noise.readout:g}"


def run_device_audit(
    config: ExperimentConfig,
    noise: NoiseSpec | None = None,
    *,
    shots: int = 1000,
    n_queries: int = 150,
    engine: str = "aer",
    methods: tuple[str, ...] = (),
    cache: ResultCache | bool = True,
    progress: bool = False,
) -> dict:
    """Audit the experiment's original model on a device; returns a JSON-ready dict.

    Args:
        config: the experiment whose original model is audited (its ``shots`` field is ignored:
            a device always samples; give ``shots`` here).
        noise: ``None`` for a noiseless device, or a :class:`~qmu_kit.readout.NoiseSpec`.
        shots: measurement shots per query, 1..1000000.
        n_queries: members and non-members queried (each), 20..2000.
        engine: ``"aer"`` runs qiskit-aer; ``"sampler"`` samples the exact distribution (noiseless
            only; the fast equivalent of a noiseless device).
        methods: unlearning methods (with the config's knobs) whose unlearned models are also
            deployed on the device and audited with the attacks fitted on the original, as in
            :mod:`qmu_kit.audit`. Unlearning itself runs in simulation, with exact gradients, on the
            config's ``unlearn_params``.
        cache: as in :func:`~qmu_kit.experiment.run_experiment`.

    Returns:
        ``{"device", "engine", "shots", "n_queries", "accuracy_members", "accuracy_nonmembers",
        "seconds", "attacks": {name: AttackOutcome.to_dict(curves=False)}, "models": {method: {same
        keys for that unlearned model}}}``.
    """
    shots = check_shots(shots)
    if shots is None:
        raise ValueError("a device always samples: shots must be an integer from 1 to 1000000")
    check_int("n_queries", n_queries, 20, 2000)
    check_choice("engine", engine, ENGINES)
    if engine == "sampler" and noise is not None:
        raise ValueError("engine='sampler' is noiseless; use engine='aer' with a noise model")
    config = config.resolved().replace(methods=tuple(methods), retrain=True)  # validates the method names
    store = resolve_cache(cache)
    payload = {"config": config.cache_key("original"), "noise": asdict(noise) if noise else None, "shots": shots,
               "n_queries": n_queries, "engine": engine, "seed": config.seed, "forget": config.forget,
               "unlearn_params": config.unlearn_params,
               "methods": {m: config.method_options.get(m, {}) for m in config.methods}}
    key = "device" + hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]
    if store is not None and (cached := store.load_json(key)) is not None and "attacks" in cached:
        return cached

    data = config.load_data()
    original = train_original(config, data, store, progress)
    rng = np.random.default_rng([config.seed, 5])
    # Members and non-members hold the same number of forget-set samples, so that no attack can
    # learn "this class means non-member" from the query mix.
    n_forget = min(int(data.forget_train.sum()), int(data.forget_test.sum()), n_queries // 2)
    members = _subset(data.forget_train, n_queries, n_forget, rng)
    nonmembers = _subset(data.forget_test, n_queries, n_forget, rng)
    start = time.perf_counter()

    def query(model, name):
        # One random stream per model and query set: auditing another method never changes these numbers.
        def readout(part):
            seed = stream_seed(config.seed, f"device-{name}-{part}")
            return AerReadout(shots, seed, noise) if engine == "aer" else ShotReadout(shots, seed)

        return (
            Observations(model.predict_proba(data.x_train[members], readout=readout("members")), data.y_train[members]),
            Observations(model.predict_proba(data.x_test[nonmembers], readout=readout("nonmembers")), data.y_test[nonmembers]),
        )

    def summary(observed_m, observed_n, outcomes):
        return {
            "accuracy_members": float((observed_m.probs.argmax(1) == observed_m.labels).mean()),
            "accuracy_nonmembers": float((observed_n.probs.argmax(1) == observed_n.labels).mean()),
            "attacks": {name: outcome.to_dict(curves=False) for name, outcome in outcomes.items()},
        }

    observed = query(original, "original")
    split = AuditSplit.from_masks(data.forget_train[members], data.forget_test[nonmembers], config.seed)
    audit = MembershipAudit(DEVICE_ATTACKS, config.seed).fit(*observed, split)
    result = {"device": device_label(noise), "engine": engine, "shots": shots, "n_queries": n_queries,
              **summary(*observed, audit.evaluate(*observed)), "models": {}}
    if config.methods:
        task = UnlearningTask.from_data(data, original)
        for name in config.methods:
            method = make_method(name, **config.method_options.get(name, {}))
            unlearned, _ = method.unlearn(original, task, params=config.unlearn_params, seed=config.seed)
            observed_unlearned = query(unlearned, name)
            result["models"][name] = summary(*observed_unlearned, audit.evaluate(*observed_unlearned))
    result["seconds"] = time.perf_counter() - start
    if store is not None:
        store.store_json(key, result)
    return result

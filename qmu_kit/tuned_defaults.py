"""PROVISIONAL placeholder (replaced by the output of the running tuning job before commit)."""

TUNED_DEFAULTS = {"ga": {"lr": 0.01}, "ssd": {"alpha": 100.0}}

PROVENANCE = {"command": "provisional", "preset": "classroom", "overrides": {}, "tuning_seeds": [1000, 1001, 1002],
              "evaluation_seeds": [0], "criterion": "", "date": ""}

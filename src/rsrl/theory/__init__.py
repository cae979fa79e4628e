"""Theory stage: the advantage shape of RS-GRPO (Fig. 2), the bandit (Fig. 3, and Fig. 3b with every registry
estimator), Table 1 (estimator properties measured on the registry functions) and the two lemmas.

Submodules: :mod:`rsrl.theory.bandit`, :mod:`rsrl.theory.estimator_set`, :mod:`rsrl.theory.properties`,
:mod:`rsrl.theory.advantage_shape`, :mod:`rsrl.theory.lemmas`, :mod:`rsrl.theory.figures`; command line in
:mod:`rsrl.theory.__main__`.
"""

#: Subcommands of ``python -m rsrl.theory``; the workflow rule of each is ``theory_<name>`` (hyphens as
#: underscores), which the cost plan counts.
COMMANDS = ("bandit", "advantage-shape", "lemmas", "table1", "figures")
RULES = tuple(f"theory_{c.replace('-', '_')}" for c in COMMANDS)

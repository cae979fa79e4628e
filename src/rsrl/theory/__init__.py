"""Theory stage: the advantage shape of RS-GRPO (Fig. 2), the bandit (Fig. 3, and Fig. 3b with every registry
estimator), Table 1 (estimator properties measured on the registry functions) and the two lemmas.

Submodules: :mod:`rsrl.theory.bandit`, :mod:`rsrl.theory.estimator_set`, :mod:`rsrl.theory.properties`,
:mod:`rsrl.theory.advantage_shape`, :mod:`rsrl.theory.lemmas`, :mod:`rsrl.theory.figures`; command line in
:mod:`rsrl.theory.__main__`.
"""

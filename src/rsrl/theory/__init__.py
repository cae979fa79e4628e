"""Theory stage: the advantage shape of RS-GRPO (Fig. 2), the bandit (Fig. 3) and the two lemmas.

Submodules: :mod:`rsrl.theory.bandit`, :mod:`rsrl.theory.advantage_shape`, :mod:`rsrl.theory.lemmas`,
:mod:`rsrl.theory.figures`; command line in :mod:`rsrl.theory.__main__`.
"""

"""rsrl: reference pipeline for risk-sensitive RL on LLMs (RS-GRPO and relatives)."""

__version__ = "0.1.0"

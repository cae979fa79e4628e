"""Locally built models (the tiny Qwen2 policy of the demo and tests)."""

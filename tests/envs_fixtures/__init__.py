"""Test-only environments built on mercato's core contracts (not registered by `import envs`)."""

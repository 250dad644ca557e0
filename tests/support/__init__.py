"""Test support that is not a test module: models and harnesses the tests share."""

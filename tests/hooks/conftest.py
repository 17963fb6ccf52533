"""The hook tests use the shared ``ns`` fixture of tests/conftest.py."""

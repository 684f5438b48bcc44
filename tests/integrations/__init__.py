"""Tests of the vendor integrations (one package per integration)."""

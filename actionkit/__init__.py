"""The contract integrations are written against (growing: see DESIGN.md).

Today it holds the outbound URL policy every vendor client enforces.
"""

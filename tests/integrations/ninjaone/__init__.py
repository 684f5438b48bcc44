"""NinjaOne: every action against FakeNinjaOne, in-process and over HTTP with a real worker."""

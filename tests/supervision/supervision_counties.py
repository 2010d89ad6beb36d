"""The three small counties the supervision tests plan and evaluate (as tests/province does; a
module of its own: `from conftest import …` would find another folder's conftest)."""

COUNTIES = ["510105", "510402", "510403"]
